import { CUSTOM_MAX_BYTES, CUSTOM_VALUE_MAX_LENGTH, HUB_USERNAME_MAX_LENGTH, ID_TOKEN_MAX_LENGTH, jsonBytes, LTI_CLAIM } from '@ltilaunch/claims'
import { ConfigError } from '@ltilaunch/service-kit'
import { decodeJwt } from 'jose'
import t from 'tap'
import { readConfig } from '../../src/config.js'
import { API_KEY, authorizeGet, authParams, Browser, build, formOf, launchCsrf, signIn, TEST_ENV, TEST_TOOLS, TEST_USERS, TOOL, type App } from '../helper.js'

/*
 * What no launch could deliver is refused where it is asked for: custom
 * parameters beyond @ltilaunch/claims' limits (the id_token is form-posted
 * to the tool, whose body limit is ID_TOKEN_FORM_POST_LIMIT), and users
 * whose identifiers JupyterHub would refuse as a username.
 */

/** 'post-tool' has no registration custom parameters, so a launch's custom claim is the request's. */
const BARE_TOOL = 'post-tool'

const launchBody = (custom: Record<string, string>, user: Record<string, unknown> = {}, clientId = BARE_TOOL) => ({
  user: { id: 'limits-user', email: 'kj@example.org', roles: ['Learner'], ...user },
  client_id: clientId,
  resource_link: { id: 'block-v1:abc' },
  custom
})

/** The problems a config stops the start with, one string; '' when it starts. */
function problemsOf (env: Record<string, string>): string {
  try {
    readConfig({ ...TEST_ENV, ...env })
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join(' | ')
    throw err
  }
  return ''
}

async function createLaunch (app: App, body: unknown) {
  return await app.inject({ method: 'POST', url: '/api/v1/launches', headers: { authorization: `Bearer ${API_KEY}` }, payload: body as Record<string, unknown> })
}

/** A custom claim whose JSON is exactly `bytes` long, in values the schema allows. */
function customOfBytes (bytes: number): Record<string, string> {
  const custom: Record<string, string> = {}
  for (let i = 0; jsonBytes(custom) < bytes; i++) {
    const key = `p${String(i).padStart(2, '0')}`
    custom[key] = ''
    custom[key] = 'x'.repeat(Math.min(CUSTOM_VALUE_MAX_LENGTH, bytes - jsonBytes(custom)))
  }
  return custom
}

/** The id_token the platform signs for a launch URL, as the tool receives it. */
async function idTokenOf (app: App, launchUrl: string): Promise<string> {
  const browser = new Browser(app)
  const go = await browser.get(new URL(launchUrl).pathname)
  // post-tool initiates login with an auto-submitted POST form.
  const login = go.statusCode === 303 ? Object.fromEntries(new URL(go.headers.location as string).searchParams) : formOf(go.body).fields
  const form = formOf((await authorizeGet(browser, authParams(login, { redirect_uri: 'https://post.example/callback' }))).body)
  return form.fields.id_token as string
}

t.test('100 custom values of 8 KB (which the tool would refuse with 413) are refused at the API, naming the limit', async (t) => {
  const app = await build(t, { store: 'memory' })
  const custom = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'.repeat(8192)]))
  const res = await createLaunch(app, launchBody(custom))
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'PLATFORM_CUSTOM_TOO_LARGE')
  t.match(res.json().message, `at most ${CUSTOM_MAX_BYTES} fit in a launch`)
})

t.test('the largest accepted custom claim is signed into an id_token that fits; one byte more is refused at the API', async (t) => {
  const app = await build(t, { store: 'memory' })
  const largest = customOfBytes(CUSTOM_MAX_BYTES)
  const res = await createLaunch(app, launchBody(largest))
  t.equal(res.statusCode, 201, res.body.slice(0, 300))
  const token = await idTokenOf(app, res.json().launchUrl)
  t.same(decodeJwt(token)[LTI_CLAIM.custom], largest, 'the custom claim arrives whole')
  t.ok(token.length <= ID_TOKEN_MAX_LENGTH, `the id_token (${token.length} characters) is within ID_TOKEN_MAX_LENGTH`)

  const over = await createLaunch(app, launchBody(customOfBytes(CUSTOM_MAX_BYTES + 1)))
  t.equal(over.statusCode, 422)
  t.equal(over.json().code, 'PLATFORM_CUSTOM_TOO_LARGE')
  t.match(over.json().message, `${CUSTOM_MAX_BYTES + 1} bytes as JSON`)
})

t.test('the limit counts the claim the tool receives: the registration\'s parameters, the image and the course name too', async (t) => {
  const app = await build(t, { store: 'memory' })
  // test-tool's registration adds its own parameters (fixed, uid, mail, course_id, ...) to these.
  const res = await createLaunch(app, { ...launchBody(customOfBytes(CUSTOM_MAX_BYTES - 10), {}, TOOL.clientId), context: { id: 'c1', title: 'A course' } })
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'PLATFORM_CUSTOM_TOO_LARGE')
})

t.test('the launch form obeys the same limits: a registration whose substitutions overflow the custom claim is refused at Launch', async (t) => {
  // Within the limit as configured; "$Context.title" (Data Science 101) and course_name push it over.
  const fixed = customOfBytes(CUSTOM_MAX_BYTES - 40)
  const tools = { tools: [{ ...TEST_TOOLS.tools[0], custom: { ...fixed, title: '$Context.title' } }] }
  const app = await build(t, { store: 'memory', env: { PLATFORM_TOOLS: JSON.stringify(tools) } })
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const csrf = await launchCsrf(browser)
  const res = await browser.post('/launch', { csrf, client_id: TOOL.clientId, course: 'ds101' }, { accept: 'application/json' })
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'PLATFORM_CUSTOM_TOO_LARGE')
})

t.test('a registration whose own custom parameters are too large stops the start', async (t) => {
  const tools = { tools: [{ ...TEST_TOOLS.tools[0], custom: customOfBytes(CUSTOM_MAX_BYTES + 1) }] }
  const problems = problemsOf({ PLATFORM_TOOLS: JSON.stringify(tools) })
  t.match(problems, /PLATFORM_TOOLS: .*test-tool: custom: .*bytes as JSON/)
})

t.test('a user whose identifiers the hub would refuse as a username is refused at the API with a code', async (t) => {
  const app = await build(t, { store: 'memory' })
  const cases: Array<[string, Record<string, unknown>, Record<string, string>, RegExp]> = [
    ['an email with "/"', { email: 'a/b@example.org' }, {}, /the email "a\/b@example.org": it contains "\/"/],
    ['an email with white space around it', { email: ' kj@example.org' }, {}, /white space/],
    ['an email with a control character', { email: 'kj\u0007@example.org' }, {}, /control character/],
    ['a username custom value with "/"', {}, { username: 'ops/kj' }, /custom parameter username/],
    ['a user_id custom value too long for the hub', {}, { user_id: 'u'.repeat(HUB_USERNAME_MAX_LENGTH + 1) }, /256 characters long/],
    ['a login custom value with a newline', {}, { login: 'kj\n' }, /custom parameter login/]
  ]
  for (const [name, user, custom, message] of cases) {
    const res = await createLaunch(app, launchBody(custom, user, TOOL.clientId))
    t.equal(res.statusCode, 422, name)
    t.equal(res.json().code, 'PLATFORM_USERNAME_REFUSED', name)
    t.match(res.json().message, message, name)
  }
})

t.test('identifiers the tool does not receive, or that cannot become a username, are not refused', async (t) => {
  const app = await build(t, { store: 'memory' })
  // private-tool does not receive e-mail addresses.
  const hidden = await createLaunch(app, launchBody({}, { email: 'a/b@example.org' }, 'private-tool'))
  t.equal(hidden.statusCode, 201, hidden.body)
  const notes = await createLaunch(app, launchBody({ notes: 'see /docs/week1', course_name: 'Intro / Part 1' }, {}, TOOL.clientId))
  t.equal(notes.statusCode, 201, notes.body)
})

t.test('with PLATFORM_SUBJECT=id, a host user id that makes a sub over 255 characters is refused', async (t) => {
  const app = await build(t, { store: 'memory', env: { PLATFORM_SUBJECT: 'id' } })
  const res = await createLaunch(app, launchBody({}, { id: 'x'.repeat(255) }))
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'PLATFORM_USERNAME_REFUSED')
  t.match(res.json().message, /the sub "api:x+…": it is 259 characters long/)
  t.equal((await createLaunch(app, launchBody({}, { id: 'x'.repeat(251) }))).statusCode, 201, '251 + "api:" is 255: accepted')
})

t.test('demo users whose sub or email the hub would refuse stop the start, by name', async (t) => {
  const withUser = (extra: Record<string, unknown>, env: Record<string, string> = {}) => {
    const users = { ...TEST_USERS, users: [...TEST_USERS.users, { ...TEST_USERS.users[0], username: 'bob', ...extra }] }
    return problemsOf({ ...env, PLATFORM_USERS: JSON.stringify(users) })
  }
  t.match(withUser({ email: 'bob/x@example.org' }), /PLATFORM_USERS: user bob: email .* cannot be a JupyterHub username: it contains "\/"/)
  t.match(withUser({ sub: 'bob ' }), /PLATFORM_USERS: user bob: sub .*white space/)
  t.match(withUser({ id: 'dept/bob' }, { PLATFORM_SUBJECT: 'id' }), /PLATFORM_USERS: user bob: sub "dept\/bob"/)
  t.equal(withUser({ id: 'dept/bob' }), '', 'with an opaque sub, the id never becomes a username')
  t.equal(withUser({ email: 'bob@example.org' }), '')
})
