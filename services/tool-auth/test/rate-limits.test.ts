import t from 'tap'
import { build, TEST_ENV, type App } from './helper.js'
import { launch } from './support/launch.js'
import { startPlatform, TARGET, type TestPlatform } from './support/platform.js'

/*
 * Rate limits: browsers per address (a lecture hall behind one NAT address
 * must not reach it), the hub's server-to-server calls not per address, and
 * only failed client authentications counted, per client id and address.
 */

const SECRET = TEST_ENV.HUB_CLIENT_SECRET as string
const CALLBACK = TEST_ENV.HUB_REDIRECT_URI as string
const basic = (secret: string): string => `Basic ${Buffer.from(`jupyterhub:${secret}`).toString('base64')}`

async function loginFrom (app: App, platform: TestPlatform, address: string) {
  const url = `/lti13/oauth_login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }).toString()}`
  return await app.inject({ url, remoteAddress: address, headers: { accept: 'application/json' } })
}

async function codeFor (app: App, session: string): Promise<string> {
  const query = new URLSearchParams({ response_type: 'code', client_id: 'jupyterhub', redirect_uri: CALLBACK, state: 's', scope: 'openid' })
  const res = await app.inject({ url: `/oauth2/authorize?${query.toString()}`, headers: { cookie: `ltilaunch_session=${session}` } })
  if (res.statusCode !== 302) throw new Error(`authorize: ${res.statusCode} ${res.body}`)
  return new URL(res.headers.location as string).searchParams.get('code') as string
}

async function token (app: App, form: Record<string, string>, secret = SECRET, address = '10.1.1.1') {
  return await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    remoteAddress: address,
    payload: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: basic(secret) }
  })
}

t.test('the hub\'s token and userinfo calls are not limited per address: 150 exchanges from one address succeed', async (t) => {
  const platform = await startPlatform(t)
  // The browser limit set to the old default (120 a minute) must not touch the token endpoint.
  const app = await build(t, { env: { ...platform.env, RATE_LIMIT_MAX: '120' } })
  const { session } = await launch(app, platform)
  if (session === undefined) throw new Error('no session')
  const statuses = new Map<number, number>()
  const count = (status: number): void => { statuses.set(status, (statuses.get(status) ?? 0) + 1) }
  for (let i = 0; i < 150; i++) {
    const reply = await token(app, { grant_type: 'authorization_code', code: await codeFor(app, session), redirect_uri: CALLBACK })
    count(reply.statusCode)
    if (reply.statusCode !== 200) continue
    const info = await app.inject({ url: '/oauth2/userinfo', remoteAddress: '10.1.1.1', headers: { authorization: `Bearer ${reply.json().access_token as string}` } })
    count(info.statusCode * 1000)
  }
  t.same(Object.fromEntries(statuses), { 200: 150, 200000: 150 }, 'every token and userinfo call answered 200')
})

t.test('failed client authentications are counted per client id and address; successes are not', async (t) => {
  const app = await build(t, { env: { CLIENT_AUTH_FAILURE_MAX: '3' } })
  const unknownCode = { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: CALLBACK }
  for (let i = 0; i < 10; i++) {
    const ok = await token(app, unknownCode)
    t.equal(ok.json().error, 'invalid_grant', `authenticated call ${i + 1} is not counted`)
  }
  for (let i = 0; i < 3; i++) {
    const wrong = await token(app, unknownCode, 'wrong-secret-0123456789', '10.6.6.6')
    t.equal(wrong.statusCode, 401, `failure ${i + 1} is checked`)
    t.equal(wrong.json().error, 'invalid_client')
  }
  const limited = await token(app, unknownCode, 'wrong-secret-0123456789', '10.6.6.6')
  t.equal(limited.statusCode, 429, 'the next attempt from that address is refused unchecked')
  t.equal(limited.json().code, 'TOOL_AUTH_RATE_LIMITED')
  t.match(limited.json().message, /client_secret/)
  t.ok(Number(limited.headers['retry-after']) > 0, 'with Retry-After')
  const right = await token(app, unknownCode, SECRET, '10.6.6.6')
  t.equal(right.statusCode, 429, 'even the right secret waits, from that address (no guessing past the limit)')
  const hub = await token(app, unknownCode)
  t.equal(hub.json().error, 'invalid_grant', 'the hub, at its own address, is not locked out by someone else\'s failures')
})

t.test('browser routes are limited per address, with the kit\'s error shape and Retry-After', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, RATE_LIMIT_MAX: '3' } })
  for (let i = 0; i < 3; i++) t.equal((await loginFrom(app, platform, '10.2.2.2')).statusCode, 302)
  const limited = await loginFrom(app, platform, '10.2.2.2')
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { statusCode: 429, code: 'TOOL_AUTH_RATE_LIMITED', error: 'Too Many Requests', message: /Wait \d+ seconds/ })
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After within the window (${String(limited.headers['retry-after'])})`)
  t.equal((await loginFrom(app, platform, '10.3.3.3')).statusCode, 302, 'another address is not affected')

  const page = await app.inject({
    url: `/lti13/oauth_login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }).toString()}`,
    remoteAddress: '10.2.2.2',
    headers: { accept: 'text/html' }
  })
  t.equal(page.statusCode, 429)
  t.match(page.body, /TOOL_AUTH_RATE_LIMITED/, 'a browser sees the error page with the code')
})

t.test('with the defaults, a lecture hall behind one address (500 students, two login initiations each) is not limited', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, RATE_LIMIT_MAX: undefined } })
  t.equal(app.config.RATE_LIMIT_MAX, 3000)
  const statuses: number[] = []
  for (let batch = 0; batch < 20; batch++) {
    const replies = await Promise.all(Array.from({ length: 50 }, async () => await loginFrom(app, platform, '10.4.4.4')))
    statuses.push(...replies.map((reply) => reply.statusCode))
  }
  t.equal(statuses.length, 1000)
  t.same([...new Set(statuses)], [302], 'all 1000 login initiations redirect to the platform')
})
