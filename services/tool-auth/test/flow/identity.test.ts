import { redisStoreForTest } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { startBroker } from '../support/broker.js'
import { Browser } from '../support/browser.js'
import { baseOf, browserLaunch, hubLogin, toolFor } from '../support/flow.js'
import { startPlatform, type TestPlatform } from '../support/platform.js'

/*
 * A person is (issuer, sub). Two platforms asserting the same sub or the
 * same e-mail get two hub users, or a clear refusal, never one account;
 * through the real flow (real tokens, real HTTP, real Redis).
 */

const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'

/** The platform's next id_token names this person (sub, e-mail) in course `contextId`. */
function asPerson (platform: TestPlatform, tool: string, person: { sub: string, email?: string, contextId?: string, roles?: string[] }): void {
  platform.authorizeClaims = (nonce) => {
    const claims = platform.claims(nonce, { sub: person.sub, email: person.email }, {
      targetLinkUri: `${tool}/lti13/launch`,
      roles: person.roles ?? [LEARNER],
      context: { id: person.contextId ?? '2', label: 'Intro', title: 'Introduction', type: ['CourseOffering'] }
    })
    if (person.email === undefined) delete claims.email
    return claims
  }
}

t.test('the same sub and the same e-mail from two namespaced platforms are two hub users, with two course groups', async (t) => {
  const moodleA = await startPlatform(t, { clientId: 'moodle-a' })
  const moodleB = await startPlatform(t, { clientId: 'moodle-b' })
  const broker = await startBroker(t)
  const app = await toolFor(t, [moodleA, moodleB], { BROKER_URL: broker.url, username_key: 'sub' }, [{ username_prefix: 'a-' }, { username_prefix: 'b-' }])
  const tool = baseOf(app)
  const seen = []
  for (const platform of [moodleA, moodleB]) {
    // Moodle in privacy mode: no e-mail, and sub 2 is every Moodle's first admin.
    asPerson(platform, tool, { sub: '2' })
    const browser = new Browser()
    const callback = await browserLaunch(browser, tool, platform)
    t.equal(callback.status, 303, await callback.clone().text())
    const hub = await hubLogin(browser, tool)
    seen.push(hub.userinfo)
  }
  t.match(seen[0], { name: 'a-2', groups: ['learner', 'course:a-2'] })
  t.match(seen[1], { name: 'b-2', groups: ['learner', 'course:b-2'] })
  t.same(broker.calls.map((call) => call.body.username), ['a-2', 'b-2'], 'the broker starts two users')
  t.same(broker.calls.map((call) => call.body.namespace), [{ prefix: 'a-', suffix: '' }, { prefix: 'b-', suffix: '' }], 'and gets the namespace for course groups and server names')
})

t.test('a username bound to one (issuer, sub) is refused to any other, with a 403 page, and nothing is opened', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url })
  const tool = baseOf(app)

  asPerson(platform, tool, { sub: 'grace-1', email: 'grace@example.edu' })
  const first = await browserLaunch(new Browser(), tool, platform)
  t.equal(first.status, 303, 'the first person to arrive gets the name')

  // Another person of the same platform whose e-mail differs only in case.
  asPerson(platform, tool, { sub: 'grace-2', email: 'Grace@Example.edu' })
  const browser = new Browser()
  const second = await browserLaunch(browser, tool, platform)
  t.equal(second.status, 403)
  const page = await second.text()
  t.match(page, 'TOOL_AUTH_USERNAME_TAKEN')
  t.match(page, 'grace@example.edu')
  t.match(page, 'username_prefix', 'the page tells the operator how to separate them')
  t.equal(broker.calls.length, 1, 'nothing reached the broker for the second person')
  const hub = await hubLogin(browser, tool)
  t.equal(hub.authorize.status, 401, 'no session: the hub cannot log the second person in')

  asPerson(platform, tool, { sub: 'grace-1', email: 'grace@example.edu' })
  t.equal((await browserLaunch(new Browser(), tool, platform)).status, 303, 'the owner launches again as before')
})

t.test('the binding is durable: a tool-auth started later on the same Redis still refuses the second person', async (t) => {
  const platform = await startPlatform(t)
  const store = await redisStoreForTest(t, 'tool-auth-identity')
  if (store === undefined) throw new Error('this test needs Redis')
  const before = await toolFor(t, [platform], {}, [], { store })
  asPerson(platform, baseOf(before), { sub: 'ada-1', email: 'ada@example.edu' })
  t.equal((await browserLaunch(new Browser(), baseOf(before), platform)).status, 303)
  await before.close()

  const after = await toolFor(t, [platform], {}, [], { store })
  asPerson(platform, baseOf(after), { sub: 'ada-2', email: 'ada@example.edu' })
  const refused = await browserLaunch(new Browser(), baseOf(after), platform)
  t.equal(refused.status, 403)
  t.match(await refused.text(), 'TOOL_AUTH_USERNAME_TAKEN')
})

t.test('two replicas binding the same name at once: exactly one person gets it', async (t) => {
  const first = await startPlatform(t, { clientId: 'first' })
  const store = await redisStoreForTest(t, 'tool-auth-identity-race')
  if (store === undefined) throw new Error('this test needs Redis')
  // Namespaces that could meet are refused at start, so the race is between two people of one platform.
  const a = await toolFor(t, [first], {}, [], { store })
  const b = await toolFor(t, [first], {}, [], { store })
  const launches = []
  for (const [i, app] of [a, b].entries()) {
    launches.push((async () => {
      const browser = new Browser()
      const tool = baseOf(app)
      const login = await browser.fetch(`${tool}/lti13/oauth_login`, { form: { iss: first.issuer, login_hint: 'hint', target_link_uri: `${tool}/lti13/launch`, client_id: first.clientId } })
      const authorize = new URL(login.headers.get('location') as string)
      const claims = first.claims(authorize.searchParams.get('nonce') as string, { sub: `racer-${i}`, email: 'race@example.edu' }, { targetLinkUri: `${tool}/lti13/launch` })
      return await browser.fetch(`${tool}/lti13/oauth_callback`, { form: { id_token: await first.sign(claims), state: authorize.searchParams.get('state') as string } })
    })())
  }
  const statuses = (await Promise.all(launches)).map((res) => res.status).sort()
  t.same(statuses, [303, 403])
})

t.test('a username the hub would refuse is refused here with a page that says why, before the broker', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url, username_key: 'custom_login' })
  const tool = baseOf(app)
  for (const [login, why] of [['x'.repeat(300), /300 characters long/], ['dept/ada', /contains &quot;\/&quot;|contains "\/"/]] as const) {
    platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch`, custom: { login } })
    const res = await browserLaunch(new Browser(), tool, platform)
    t.equal(res.status, 422, login.slice(0, 20))
    const page = await res.text()
    t.match(page, 'TOOL_AUTH_USERNAME_REFUSED')
    t.match(page, why)
  }
  t.equal(broker.calls.length, 0, 'the broker never saw them')
})

t.test('a launch without sub names nobody: refused', async (t) => {
  const platform = await startPlatform(t)
  const app = await toolFor(t, [platform], {})
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => {
    const claims = platform.claims(nonce, { email: 'anon@example.edu' }, { targetLinkUri: `${tool}/lti13/launch` })
    delete claims.sub
    return claims
  }
  const res = await browserLaunch(new Browser(), tool, platform)
  t.equal(res.status, 400)
  t.match(await res.text(), 'TOOL_AUTH_USERNAME_MISSING')
})
