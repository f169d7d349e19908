import t from 'tap'
import { courseGroupName, hubUrlSegment, safeServerName, serverNameFor, variantServerName } from '../src/server-names.js'

// JupyterHub 5's rule for new named servers, and the older "alphanumeric, or stem-hash" rule.
const SAFE_SLUG = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$/
const OLD_RULE = /^[a-z0-9]+(?:-[a-f0-9]{8})?$/

t.test('server names are valid for the hub, stable and distinct', async (t) => {
  const inputs = ['math101', 'MATH101', 'Math 101', 'math-101', '101', '', 'é', 'a'.repeat(40), 'x/../y', 'CS 50: Intro <to> "it"', 'ÜBUNG']
  const names = inputs.map(safeServerName)
  t.equal(safeServerName('math101'), 'math101', 'a simple name is kept')
  t.match(safeServerName('MATH101'), /^math101-[0-9a-f]{8}$/)
  t.match(safeServerName('101'), /^c101-[0-9a-f]{8}$/, 'starts with a letter')
  for (const [i, name] of names.entries()) {
    t.match(name, SAFE_SLUG, `${JSON.stringify(inputs[i])} → ${name} is a safe slug`)
    t.match(name, OLD_RULE, `${name} also suits older hubs`)
    t.ok(name.length <= 30)
  }
  t.equal(new Set(names).size, names.length, 'distinct inputs, distinct names')
  t.equal(safeServerName('Math 101'), safeServerName('Math 101'), 'stable')
})

t.test('a launch gets its course server only with named servers on', async (t) => {
  t.equal(serverNameFor({ id: 'c1', label: 'math101' }, false), '')
  t.equal(serverNameFor(undefined, true), '')
  t.equal(serverNameFor({ id: 'c1', label: 'math101' }, true), 'math101')
  t.equal(serverNameFor({ id: 'c1' }, true), safeServerName('c1'))
  t.equal(serverNameFor({ id: 'c1', label: '  ' }, true), safeServerName('c1'), 'a blank label falls back to the id')
})

t.test('a variant per image, and course groups', async (t) => {
  const a = variantServerName('math101', 'img:a')
  const b = variantServerName('math101', 'img:b')
  t.not(a, b)
  t.match(a, SAFE_SLUG)
  t.match(variantServerName('', 'img:a'), /^server-[0-9a-f]{8}$/)
  t.equal(courseGroupName({ id: 'c1', label: 'math101' }), 'course-math101')
})

t.test('names in hub URLs are escaped as JupyterHub escapes them (quote, safe @~)', async (t) => {
  t.equal(hubUrlSegment('ada@example.edu'), 'ada@example.edu', '@ stays, as in /user/ada@example.edu/')
  t.equal(hubUrlSegment('a b/c+d'), 'a%20b%2Fc%2Bd')
  t.equal(hubUrlSegment("o'neil(1)!*~"), 'o%27neil%281%29%21%2A~')
})

t.test("a platform's namespace goes into course groups and server names; none keeps today's names", async (t) => {
  const course = { id: '2', label: 'Intro' }
  const moodleA = { prefix: 'moodle-a-', suffix: '' }
  const moodleB = { prefix: 'moodle-b-', suffix: '' }
  t.equal(courseGroupName(course), courseGroupName(course, undefined), 'no namespace: the name as before')
  t.not(courseGroupName(course, moodleA), courseGroupName(course, moodleB), 'course 2 of two Moodles: two groups')
  t.not(serverNameFor(course, true, moodleA), serverNameFor(course, true, moodleB), 'and two server names')
  t.match(serverNameFor(course, true, moodleA), SAFE_SLUG, 'still a safe slug')
  t.equal(serverNameFor(course, true, { prefix: '', suffix: '' }), serverNameFor(course, true), 'an empty namespace changes nothing')
})
