import t from 'tap'
import { courseGroup, HUB_USERNAME_MAX_LENGTH, hubUsernameProblem, namespaced, namespacesOverlap } from '../src/index.js'

t.test('a namespace is added around the name, and the result is lower-cased as the hub does', async (t) => {
  t.equal(namespaced('Grace@Example.edu'), 'grace@example.edu')
  t.equal(namespaced('2', { prefix: 'moodle-a-', suffix: '' }), 'moodle-a-2')
  t.equal(namespaced('ada', { prefix: '', suffix: '@canvas' }), 'ada@canvas')
})

t.test('course groups carry the namespace too', async (t) => {
  t.equal(courseGroup('2'), 'course:2')
  t.equal(courseGroup('2', { prefix: 'moodle-a-', suffix: '' }), 'course:moodle-a-2')
})

t.test('namespaces overlap only when both prefixes and both suffixes can meet', async (t) => {
  const none = { prefix: '', suffix: '' }
  t.ok(namespacesOverlap(none, none), 'two plain platforms')
  t.ok(namespacesOverlap(none, { prefix: 'canvas-', suffix: '' }), 'a plain platform can produce "canvas-x" too')
  t.notOk(namespacesOverlap({ prefix: 'canvas-', suffix: '' }, { prefix: 'moodle-', suffix: '' }))
  t.ok(namespacesOverlap({ prefix: 'c-', suffix: '' }, { prefix: 'C-X', suffix: '' }), 'compared lower-cased')
  t.notOk(namespacesOverlap({ prefix: '', suffix: '@canvas' }, { prefix: '', suffix: '@moodle' }))
  t.ok(namespacesOverlap({ prefix: 'a-', suffix: '' }, { prefix: '', suffix: '@b' }), '"a-x@b" comes from both')
})

t.test('the hub refuses names that are empty, too long, padded, with "/" or control characters', async (t) => {
  t.equal(hubUsernameProblem('grace@example.edu'), undefined)
  t.equal(hubUsernameProblem('x'.repeat(HUB_USERNAME_MAX_LENGTH)), undefined)
  t.match(hubUsernameProblem('x'.repeat(HUB_USERNAME_MAX_LENGTH + 1)), /256 characters long/)
  t.match(hubUsernameProblem(''), /empty/)
  t.match(hubUsernameProblem(' ada'), /white space/)
  t.match(hubUsernameProblem('a/b'), /"\/"/)
  t.match(hubUsernameProblem('a\u0000b'), /control character/)
  t.equal(hubUsernameProblem('josé-ñ@example.edu'), undefined, 'non-ASCII letters are fine')
})
