import { Value } from 'typebox/value'
import { HubUserInfoSchema, PendingLaunchRequestSchema } from '@ltilaunch/claims'
import t from 'tap'
import { deadUrl, startBroker } from '../support/broker.js'
import { Browser } from '../support/browser.js'
import { baseOf, browserLaunch, hubLogin, toolFor } from '../support/flow.js'
import { startPlatform } from '../support/platform.js'

/*
 * The whole path with real HTTP and real cookies: a browser launches from a
 * test platform (real RS256 tokens, real JWKS), tool-auth hands the launch
 * to a fake broker, then a hub (GenericOAuthenticator's requests, played
 * here) logs the user in through /oauth2/authorize, /oauth2/token and
 * /oauth2/userinfo.
 */

t.test('a launch from the platform reaches the broker and logs the user in to the hub', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const browser = new Browser()

  const callback = await browserLaunch(browser, tool, platform)
  t.equal(callback.status, 303, await callback.clone().text())
  t.equal(callback.headers.get('location'), `${broker.url}/launches/launch-1`, 'on to the broker\'s progress page')
  const host = new URL(tool).host
  t.ok(browser.cookie(host, 'ltilaunch_session'), 'the browser holds a session')
  t.notOk(browser.cookie(host, 'lti13_state'), 'the state cookie is gone')
  t.match(platform.lastAuthorize, { lti_message_hint: 'm1', redirect_uri: `${tool}/lti13/oauth_callback` })

  t.equal(broker.calls.length, 1)
  const call = broker.calls[0] as (typeof broker.calls)[number]
  t.equal(call.headers.authorization, 'Bearer test-broker-token-0123456789')
  t.match(call.headers['idempotency-key'], /^[0-9a-f]{64}$/)
  t.ok(Value.Check(PendingLaunchRequestSchema, call.body), 'the broker gets a PendingLaunchRequest')
  t.match(call.body, {
    username: 'ada@example.org',
    role: 'learner',
    isAdmin: false,
    user: { sub: 'user-sub-1', issuer: platform.issuer, email: 'Ada@Example.org' },
    platform: { issuer: platform.issuer, clientId: platform.clientId, deploymentId: platform.deploymentId },
    course: { id: 'course-42', label: 'DS101', title: 'Data Science 101' },
    resourceLink: { id: 'link-1', title: 'Week 1 notebook' },
    image: 'scipy',
    custom: { image: 'scipy', course_name: 'ds101' }
  })

  const launchPage = await browser.fetch(`${tool}/lti13/launch`)
  t.equal(launchPage.status, 303)
  t.equal(launchPage.headers.get('location'), `${broker.url}/launches/launch-1`, 'the target link URI sends a returning browser to the progress page')

  const hub = await hubLogin(browser, tool)
  t.equal(hub.authorize.status, 302)
  t.equal(hub.back?.searchParams.get('state'), hub.state, 'the state comes back unchanged')
  t.equal(hub.tokenResponse?.status, 200)
  t.match(hub.token, { token_type: 'Bearer', expires_in: 3600, scope: 'openid' })
  t.ok(hub.token?.refresh_token)
  t.ok(Value.Check(HubUserInfoSchema, hub.userinfo), 'userinfo matches HubUserInfoSchema')
  t.match(hub.userinfo, {
    sub: 'user-sub-1',
    name: 'ada@example.org',
    preferred_username: 'ada@example.org',
    email: 'Ada@Example.org',
    groups: ['learner', 'course:course-42'],
    admin: false,
    lti: { issuer: platform.issuer, client_id: platform.clientId, deployment_id: platform.deploymentId, message_type: 'LtiResourceLinkRequest', role: 'learner', launch_id: 'launch-1', image: 'quay.io/jupyter/scipy-notebook:latest', context: { id: 'course-42' }, resource_link: { id: 'link-1' }, custom: { image: 'scipy' } }
  })
})

t.test('a platform\'s very long texts are cut to the broker\'s limits instead of failing the launch', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url })
  const tool = baseOf(app)
  const long = 'x'.repeat(5000)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, { name: long }, {
    targetLinkUri: `${tool}/lti13/launch`,
    resourceLink: { id: 'link-1', title: long },
    context: { id: 'course-42', label: long, title: long },
    custom: { image: 'scipy', notes: 'y'.repeat(10000) }
  })
  const res = await browserLaunch(new Browser(), tool, platform)
  t.equal(res.status, 303)
  const body = broker.calls[0]?.body as Record<string, any>
  t.ok(Value.Check(PendingLaunchRequestSchema, body), 'still a valid PendingLaunchRequest')
  t.equal(body.resourceLink.title.length, 1024)
  t.equal(body.custom.notes.length, 8192)
})

t.test('two issuers at once: each launch is checked against its own keys and both log in', async (t) => {
  const first = await startPlatform(t, { clientId: 'client-a' })
  const second = await startPlatform(t, { clientId: 'client-b' })
  const app = await toolFor(t, [first, second], {}, [{ username_prefix: 'a-' }, { username_prefix: 'b-' }])
  const tool = baseOf(app)
  for (const platform of [first, second]) {
    platform.authorizeClaims = (nonce) => platform.claims(nonce, { email: `user@${platform.clientId}.example` }, { targetLinkUri: `${tool}/lti13/launch` })
    const browser = new Browser()
    const callback = await browserLaunch(browser, tool, platform)
    t.equal(callback.status, 303, `${platform.clientId}: ${await callback.clone().text()}`)
    t.equal(callback.headers.get('location'), `${tool}/lti13/launch`, 'no broker configured: back to the target')
    const hub = await hubLogin(browser, tool, { basic: false })
    t.equal(hub.userinfo?.name, `${platform === first ? 'a-' : 'b-'}user@${platform.clientId}.example`)
    t.equal(hub.userinfo?.lti.issuer, platform.issuer)
  }
  // A token of the second platform signed with the first one's key is refused.
  const browser = new Browser()
  second.authorizeClaims = (nonce) => second.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const realKey = second.key
  second.key = first.key
  const crossed = await browserLaunch(browser, tool, second)
  second.key = realKey
  t.equal(crossed.status, 400)
  t.match(await crossed.text(), 'TOOL_AUTH_TOKEN_INVALID')
})

t.test('the broker refusing the image shows its reason and opens no session', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  broker.mode = 'refuse-image'
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const browser = new Browser()
  const res = await browserLaunch(browser, tool, platform)
  t.equal(res.status, 422)
  const page = await res.text()
  t.match(page, 'TOOL_AUTH_IMAGE_REFUSED')
  t.match(page, 'The image &quot;evil/miner&quot; is not allowed; allowed: minimal, scipy, pytorch.')
  t.notOk(browser.cookie(new URL(tool).host, 'ltilaunch_session'), 'no session')
  const hub = await hubLogin(browser, tool)
  t.equal(hub.authorize.status, 401, 'the hub cannot log in from a refused launch')
})

t.test('a broker that is down or failing gives a 503 page with Retry-After, and no session', async (t) => {
  const platform = await startPlatform(t)
  const failing = await startBroker(t)
  failing.mode = 'error'
  for (const url of [await deadUrl(), failing.url]) {
    const app = await toolFor(t, [platform], { BROKER_URL: url })
    const tool = baseOf(app)
    platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
    const browser = new Browser()
    const res = await browserLaunch(browser, tool, platform)
    t.equal(res.status, 503)
    t.ok(res.headers.get('retry-after'))
    t.match(await res.text(), 'TOOL_AUTH_BROKER_UNAVAILABLE')
    t.notOk(browser.cookie(new URL(tool).host, 'ltilaunch_session'), 'no session')
  }
})

t.test('a broker blip is retried once with the same Idempotency-Key, and makes one launch', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  broker.mode = 'flaky'
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const browser = new Browser()
  const res = await browserLaunch(browser, tool, platform)
  t.equal(res.status, 303)
  t.equal(res.headers.get('location'), `${broker.url}/launches/launch-1`, 'the launch the first call made')
  t.equal(broker.calls.length, 2)
  t.equal(broker.calls[0]?.headers['idempotency-key'], broker.calls[1]?.headers['idempotency-key'])
  t.ok(browser.cookie(new URL(tool).host, 'ltilaunch_session'))
})

t.test('a broker refusing our token is a configuration error: 502, no session, no details shown', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  broker.mode = 'unauthorized'
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const browser = new Browser()
  const res = await browserLaunch(browser, tool, platform)
  t.equal(res.status, 502)
  const page = await res.text()
  t.match(page, 'TOOL_AUTH_BROKER_REFUSED')
  t.notMatch(page, 'BROKER_UNAUTHORIZED', 'internals stay in the log')
  t.equal(broker.calls.length, 1, 'a refusal is not retried')
  t.notOk(browser.cookie(new URL(tool).host, 'ltilaunch_session'))
})

t.test('a retried broker call for the same launch uses the same idempotency key', async (t) => {
  const { idempotencyKey } = await import('../../src/lib/launch.js')
  t.equal(idempotencyKey('https://a', 'n1'), idempotencyKey('https://a', 'n1'))
  t.not(idempotencyKey('https://a', 'n1'), idempotencyKey('https://a', 'n2'))
  t.not(idempotencyKey('https://a', 'n1'), idempotencyKey('https://b', 'n1'))
  t.ok(idempotencyKey('https://a', 'n1').length <= 200)
})
