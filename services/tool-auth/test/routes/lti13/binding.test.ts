/**
 * A launch is bound to the browser that began it: by the state cookie, or by
 * the platform's postMessage storage when the platform sends
 * lti_storage_target; otherwise refused with the new-window path.
 */
import t from 'tap'
import { build, type App } from '../../helper.js'
import { postCallback } from '../../support/launch.js'
import { startPlatform, TARGET, type TestPlatform } from '../../support/platform.js'

const FRAMED = { 'sec-fetch-dest': 'iframe', 'sec-fetch-site': 'cross-site', accept: 'text/html' }

/** The href of the page's first link (<a>), not of its <link> elements. */
function linkHref (body: string): string {
  const match = /<a\b[^>]*\shref="([^"]*)"/.exec(body)
  if (match === null) throw new Error('no link in the page')
  return (match[1] as string).replaceAll('&amp;', '&')
}

function attribute (body: string, name: string): string {
  const match = new RegExp(`${name}="([^"]*)"`).exec(body)
  if (match === null) throw new Error(`no ${name} in the page`)
  return (match[1] as string).replaceAll('&amp;', '&')
}

/** A login with lti_storage_target, in a frame: the storage page and what it keeps. */
async function storageLogin (app: App, platform: TestPlatform, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({
    iss: platform.issuer,
    login_hint: 'hint-1',
    target_link_uri: TARGET,
    client_id: platform.clientId,
    lti_message_hint: 'one-time-hint',
    lti_storage_target: '_parent',
    ...extra
  })
  const res = await app.inject({ method: 'GET', url: `/lti13/login?${query.toString()}`, headers: FRAMED })
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  const next = new URL(attribute(res.body, 'data-next'))
  const state = next.searchParams.get('state') as string
  return {
    res,
    state,
    nonce: next.searchParams.get('nonce') as string,
    key: attribute(res.body, 'data-key'),
    secret: attribute(res.body, 'data-value'),
    next
  }
}

t.test('with lti_storage_target the login keeps a secret in the platform storage, then goes on', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const login = await storageLogin(app, platform)
  t.match(login.res.headers['content-type'], /text\/html/)
  t.equal(login.res.headers['cache-control'], 'no-store')
  t.equal(attribute(login.res.body, 'data-platform-origin'), new URL(platform.env.authorize_url as string).origin, 'posts only to the platform origin')
  t.equal(attribute(login.res.body, 'data-target'), '_parent')
  t.equal(login.key, `ltilaunch_state_${login.state}`)
  t.match(login.secret, /^[A-Za-z0-9_-]{32}$/)
  t.not(login.secret, login.state, 'the stored secret is not the state')
  t.equal(login.next.searchParams.get('lti_message_hint'), 'one-time-hint')
  t.match(login.res.body, /lti\.put_data/)
  t.ok(login.res.cookies.some((c) => c.name === 'lti13_state' && c.value === login.state), 'the cookie is set too')
  // The new-window link repeats the initiation, without the storage target.
  const restart = new URL(linkHref(login.res.body))
  t.equal(restart.pathname, '/lti13/login')
  t.equal(restart.searchParams.get('lti_message_hint'), 'one-time-hint')
  t.equal(restart.searchParams.get('lti_storage_target'), null)

  const bad = await app.inject({
    method: 'GET',
    url: `/lti13/login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET, lti_storage_target: 'javascript:alert(1)' }).toString()}`
  })
  t.equal(bad.statusCode, 302, 'a storage target that is not a frame name is ignored')
})

t.test('a framed login without platform storage checks that its cookie comes back before spending the hint', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'hint-1', target_link_uri: TARGET, client_id: platform.clientId, lti_message_hint: 'one-time-hint' })
  const res = await app.inject({ method: 'GET', url: `/lti13/login?${query.toString()}`, headers: FRAMED })
  t.equal(res.statusCode, 303)
  const check = new URL(res.headers.location as string)
  t.equal(check.pathname, '/lti13/login/check')
  const state = check.searchParams.get('state') as string
  const cookie = res.cookies.find((c) => c.name === 'lti13_state')?.value as string
  t.equal(cookie, state)

  // The cookie was dropped (third-party cookies blocked): refused, with a new window that restarts the login.
  const dropped = await app.inject({ method: 'GET', url: `${check.pathname}${check.search}`, headers: FRAMED })
  t.equal(dropped.statusCode, 403)
  t.match(dropped.body, /TOOL_AUTH_LAUNCH_UNBOUND/)
  const restart = new URL(linkHref(dropped.body))
  t.equal(restart.searchParams.get('lti_message_hint'), 'one-time-hint')
  t.equal(restart.searchParams.get('login_hint'), 'hint-1')
  t.match(dropped.body, /target="_blank"/)
  const json = await app.inject({ method: 'GET', url: `${check.pathname}${check.search}`, headers: { accept: 'application/json' } })
  t.equal(json.json().code, 'TOOL_AUTH_LAUNCH_UNBOUND')
  const unknown = await app.inject({ method: 'GET', url: '/lti13/login/check?state=unknown', headers: { accept: 'application/json' } })
  t.equal(unknown.json().code, 'TOOL_AUTH_STATE_UNKNOWN')

  // The cookie came back (a partitioned cookie, a same-site frame): on to the platform.
  const kept = await app.inject({ method: 'GET', url: `${check.pathname}${check.search}`, headers: { ...FRAMED, cookie: `lti13_state=${cookie}` } })
  t.equal(kept.statusCode, 302)
  const authorize = new URL(kept.headers.location as string)
  t.equal(authorize.searchParams.get('state'), state)
  t.equal(authorize.searchParams.get('lti_message_hint'), 'one-time-hint')

  const top = await app.inject({ method: 'GET', url: `/lti13/login?${query.toString()}`, headers: { 'sec-fetch-dest': 'document' } })
  t.equal(top.statusCode, 302, 'a top-level login goes straight to the platform')
  const lax = await build(t, { env: { ...platform.env, ALLOW_UNBOUND_LAUNCH: 'true' } })
  t.equal((await lax.inject({ method: 'GET', url: `/lti13/login?${query.toString()}`, headers: FRAMED })).statusCode, 302, 'the opt-out does not check')
})

t.test('a storage-bound callback without the cookie is completed only with the value our page read back', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const login = await storageLogin(app, platform)
  const idToken = await platform.sign(platform.claims(login.nonce))

  // First the page that reads the platform storage; nothing is opened yet.
  const read = await postCallback(app, { id_token: idToken, state: login.state, accept: 'text/html' })
  t.equal(read.statusCode, 200)
  t.match(read.body, /lti\.get_data/)
  t.equal(attribute(read.body, 'data-key'), login.key)
  t.equal(attribute(read.body, 'data-platform-origin'), new URL(platform.env.authorize_url as string).origin)
  t.equal(attribute(read.body, 'action'), 'https://tool.test/lti13/oauth_callback')
  t.notOk(read.cookies.some((c) => c.name === 'ltilaunch_session'))
  t.ok(await app.store.get(`state:${login.state}`), 'the state is not spent by the read page')

  const post = async (value: string, headers: Record<string, string>) => await app.inject({
    method: 'POST',
    url: '/lti13/oauth_callback',
    payload: new URLSearchParams({ id_token: idToken, state: login.state, storage_binding: value }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers }
  })
  // The attack: a form from another site, even with the right value, or our page with a wrong one.
  const forged = await post(login.secret, { 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'iframe', origin: 'https://attacker.test' })
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'TOOL_AUTH_BINDING_MISMATCH')
  const noHeaders = await post(login.secret, { origin: 'null' })
  t.equal(noHeaders.json().code, 'TOOL_AUTH_BINDING_MISMATCH', 'an opaque origin is not ours')
  const wrong = await post(`${login.secret.slice(1)}x`, { 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'iframe' })
  t.equal(wrong.json().code, 'TOOL_AUTH_BINDING_MISMATCH')
  for (const res of [forged, noHeaders, wrong]) t.notOk(res.cookies.some((c) => c.name === 'ltilaunch_session'), 'no session')

  // Our own page, in the frame, with the value from the platform: accepted, and a new tab offered.
  const bound = await post(login.secret, { 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'iframe', accept: 'text/html' })
  t.equal(bound.statusCode, 200, bound.body)
  const resume = new URL(linkHref(bound.body))
  t.match(resume.pathname, /^\/lti13\/resume\/[A-Za-z0-9_-]{43}$/)
  t.match(bound.body, /target="_blank"/)
  const framedSession = bound.cookies.find((c) => c.name === 'ltilaunch_session')?.value
  t.ok(framedSession)

  // The new tab: the session cookie is set top-level (first-party), once.
  const opened = await app.inject({ method: 'GET', url: resume.pathname })
  t.equal(opened.statusCode, 303)
  t.equal(opened.headers.location, TARGET)
  t.equal(opened.cookies.find((c) => c.name === 'ltilaunch_session')?.value, framedSession)
  const again = await app.inject({ method: 'GET', url: resume.pathname, headers: { accept: 'application/json' } })
  t.equal(again.statusCode, 400)
  t.equal(again.json().code, 'TOOL_AUTH_RESUME_UNKNOWN')

  const replay = await post(login.secret, { 'sec-fetch-site': 'same-origin' })
  t.equal(replay.json().code, 'TOOL_AUTH_STATE_UNKNOWN', 'the state was used once')
})

t.test('a cookie-bound callback without its cookie is refused with a page offering a new window', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'hint-1', target_link_uri: TARGET, client_id: platform.clientId, lti_message_hint: 'm-hint' })
  const login = await app.inject({ method: 'GET', url: `/lti13/login?${query.toString()}` })
  const authorize = new URL(login.headers.location as string)
  const state = authorize.searchParams.get('state') as string
  const idToken = await platform.sign(platform.claims(authorize.searchParams.get('nonce') as string))
  // Whatever else it carries (a storage value) does not bind a cookie-bound state.
  const res = await postCallback(app, { id_token: idToken, state, accept: 'text/html', extra: { storage_binding: 'anything' } })
  t.equal(res.statusCode, 403)
  t.match(res.body, /Error code: TOOL_AUTH_LAUNCH_UNBOUND/)
  t.notMatch(res.body, /<a\b[^>]*\shref=/, 'no link repeats a login at the callback: the state may be an attacker\'s')
  t.match(res.body, /in a new window/)
  t.notOk(res.cookies.some((c) => c.name === 'ltilaunch_session'))
})

t.test('on http://localhost (a secure context to browsers) the cookies are Secure and SameSite=None, not partitioned', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, PUBLIC_URL: 'http://localhost:3001', ALLOWED_HOSTS: 'tool.test' } })
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'hint-1', target_link_uri: TARGET, client_id: platform.clientId })
  const res = await app.inject({ method: 'GET', url: `/lti13/login?${query.toString()}` })
  t.equal(res.statusCode, 302)
  const cookie = res.cookies.find((c) => c.name === 'lti13_state') as Record<string, unknown>
  t.equal(cookie.secure, true)
  t.equal(cookie.sameSite, 'None')
  t.notOk(cookie.partitioned)
  const plain = await build(t, { env: { ...platform.env, PUBLIC_URL: 'http://127.0.0.1:3001', ALLOWED_HOSTS: 'tool.test' } })
  const other = (await plain.inject({ method: 'GET', url: `/lti13/login?${query.toString()}` })).cookies.find((c) => c.name === 'lti13_state') as Record<string, unknown>
  t.notOk(other.secure, 'any other http host: not Secure')
  t.equal(other.sameSite, 'Lax')
})

t.test('the resume link, a capability, does not reach the log', async (t) => {
  const { Writable } = await import('node:stream')
  const Fastify = (await import('fastify')).default
  const fp = (await import('fastify-plugin')).default
  const { loggerOptions } = await import('@ltilaunch/service-kit')
  const { memoryStoreForTest } = await import('@ltilaunch/service-kit/testing')
  const { readConfig } = await import('../../../src/config.js')
  const app = (await import('../../../src/app.js')).default
  const { TEST_ENV } = await import('../../helper.js')
  const platform = await startPlatform(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const server = Fastify({ logger: { ...loggerOptions({ level: 'info', service: 'tool-auth', pretty: false }), stream } })
  await server.register(fp(app), { config: readConfig({ ...TEST_ENV, ...platform.env, LOG_LEVEL: 'info' }), store: memoryStoreForTest(t) })
  t.teardown(async () => await server.close())

  const login = await storageLogin(server as unknown as App, platform)
  const idToken = await platform.sign(platform.claims(login.nonce))
  const bound = await server.inject({
    method: 'POST',
    url: '/lti13/oauth_callback',
    payload: new URLSearchParams({ id_token: idToken, state: login.state, storage_binding: login.secret }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', accept: 'text/html' }
  })
  const resume = new URL(linkHref(bound.body))
  t.equal((await server.inject({ method: 'GET', url: resume.pathname })).statusCode, 303)
  const log = lines.join('')
  t.match(log, /\/lti13\/resume\/\[ticket\]/)
  const ticket = resume.pathname.split('/').pop() as string
  t.notOk(log.includes(ticket), 'no resume ticket in the log')
  t.notOk(log.includes(login.secret), 'no storage secret in the log')
})

t.test('a browser that sends no Sec-Fetch-Site is trusted by its Origin: ours is accepted', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const login = await storageLogin(app, platform)
  const idToken = await platform.sign(platform.claims(login.nonce))
  const res = await app.inject({
    method: 'POST',
    url: '/lti13/oauth_callback',
    payload: new URLSearchParams({ id_token: idToken, state: login.state, storage_binding: login.secret }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://tool.test', accept: 'text/html' }
  })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.body, /Open JupyterLab in a new tab/)
})
