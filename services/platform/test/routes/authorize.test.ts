import { checkLaunchClaims, LTI_CLAIM } from '@ltilaunch/claims'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import t, { type Test } from 'tap'
import { authorizeGet, authParams, Browser, build, formOf, signIn, startLaunch, TOOL } from '../helper.js'

/** A signed-in browser with a launch started: the login initiation the tool received. */
async function started (t: Test, username = 'ada') {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, username)
  const login = await startLaunch(browser)
  return { app, browser, login }
}

/** The OIDC error the tool receives: the page must POST it to the registered redirect_uri. */
function oidcError (body: string): Record<string, string | undefined> {
  const form = formOf(body)
  return { action: form.action, method: form.method, ...form.fields }
}

t.test('a good request gets a page that POSTs a signed id_token and the state to the redirect_uri', async (t) => {
  const { app, browser, login } = await started(t)
  const params = authParams(login)
  const res = await authorizeGet(browser, params)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const form = formOf(res.body)
  t.equal(form.action, TOOL.redirect)
  t.equal(form.method, 'post')
  t.equal(form.fields.state, params.state)
  t.match(res.body, /<button type="submit">/, 'works with scripts off')
  const token = form.fields.id_token as string
  const header = decodeProtectedHeader(token)
  t.equal(header.alg, 'RS256')
  t.equal(header.kid, app.keys.kid)
  const claims = decodeJwt(token)
  t.equal(claims.nonce, params.nonce)
  t.equal(claims.aud, TOOL.clientId)
  t.equal(claims.azp, TOOL.clientId)
  t.equal(claims.sub, login.login_hint, 'login_hint is the user\'s sub')
  t.equal(claims[LTI_CLAIM.targetLinkUri], login.target_link_uri)
  t.equal(claims[LTI_CLAIM.deploymentId], login.lti_deployment_id)
  t.ok(checkLaunchClaims(claims).ok)
})

t.test('the login initiation carries every parameter LTI asks for', async (t) => {
  const { login } = await started(t)
  t.same(Object.keys(login).sort(), ['client_id', 'iss', 'login_hint', 'lti_deployment_id', 'lti_message_hint', 'target_link_uri'])
  t.equal(login.iss, 'http://platform.test')
  t.equal(login.client_id, TOOL.clientId)
  t.equal(login.lti_deployment_id, 'dep-1')
  t.equal(login.target_link_uri, TOOL.target)
  t.not(login.login_hint, 'ada', 'login_hint is opaque, not the username')
})

t.test('POST works like GET', async (t) => {
  const { browser, login } = await started(t)
  const res = await browser.post('/lti/authorize', authParams(login))
  t.equal(res.statusCode, 200)
  t.ok(formOf(res.body).fields.id_token)
})

t.test('a cross-site POST without the session cookie is re-submitted from our own origin once', async (t) => {
  const { browser, login } = await started(t)
  const params = authParams(login)
  const cookies = new Map(browser.jar)
  browser.jar.clear()
  const first = await browser.post('/lti/authorize', params)
  const repost = formOf(first.body)
  t.equal(repost.action, '/lti/authorize')
  t.equal(repost.fields.nonce, params.nonce)
  t.notOk(repost.fields.id_token)
  for (const [name, value] of cookies) browser.jar.set(name, value)
  const second = await browser.post(repost.action, repost.fields)
  t.ok(formOf(second.body).fields.id_token, 'the re-submitted form, with the cookie, gets the token')
})

const refusals: Array<[string, Record<string, string | undefined>, string]> = [
  ['scope is not openid', { scope: 'profile' }, 'invalid_scope'],
  ['scope is missing', { scope: undefined }, 'invalid_request'],
  ['response_type is not id_token', { response_type: 'code' }, 'unsupported_response_type'],
  ['response_mode is not form_post', { response_mode: 'query' }, 'invalid_request'],
  ['response_mode is missing', { response_mode: undefined }, 'invalid_request'],
  ['prompt is not none', { prompt: 'login' }, 'invalid_request'],
  ['nonce is missing', { nonce: undefined }, 'invalid_request'],
  ['login_hint is missing', { login_hint: undefined }, 'invalid_request'],
  ['lti_message_hint is missing', { lti_message_hint: undefined }, 'invalid_request'],
  ['login_hint names someone else', { login_hint: 'someone-else' }, 'login_required'],
  ['lti_message_hint is unknown', { lti_message_hint: 'made-up-hint' }, 'invalid_request']
]

for (const [what, overrides, error] of refusals) {
  t.test(`refused with ${error} when ${what}, sent back to the redirect_uri with the state`, async (t) => {
    const { browser, login } = await started(t)
    const params = authParams(login, overrides)
    const res = await authorizeGet(browser, params)
    t.equal(res.statusCode, 200)
    const reply = oidcError(res.body)
    t.equal(reply.action, TOOL.redirect)
    t.equal(reply.method, 'post')
    t.equal(reply.error, error)
    t.ok(reply.error_description)
    t.equal(reply.state, params.state)
    t.notOk('id_token' in reply, 'no token')
  })
}

t.test('an unknown client gets an error page, never a redirect', async (t) => {
  const { browser, login } = await started(t)
  const res = await authorizeGet(browser, authParams(login, { client_id: 'evil-tool', redirect_uri: 'https://evil.example/cb' }))
  t.equal(res.statusCode, 400)
  t.notOk(res.headers.location)
  t.notOk(res.body.includes('https://evil.example'), 'the page does not point at the unregistered address')
  t.match(res.body, /PLATFORM_AUTH_UNKNOWN_CLIENT/)
  const json = await browser.get(`/lti/authorize?${new URLSearchParams(authParams(login, { client_id: 'evil-tool' }))}`, { accept: 'application/json' })
  t.equal(json.json().code, 'PLATFORM_AUTH_UNKNOWN_CLIENT')
})

t.test('a redirect_uri that is not exactly a registered one gets an error page, never a redirect', async (t) => {
  const { browser, login } = await started(t)
  for (const redirectUri of ['https://evil.example/callback', `${TOOL.redirect}/`, `${TOOL.redirect}?x=1`, 'https://TOOL.example/callback']) {
    const res = await authorizeGet(browser, authParams(login, { redirect_uri: redirectUri }))
    t.equal(res.statusCode, 400, redirectUri)
    t.notOk(res.headers.location)
    t.match(res.body, /PLATFORM_AUTH_REDIRECT_URI_NOT_REGISTERED/)
    t.notOk(res.body.includes('<form'), 'no form to anywhere')
  }
  const missing = await authorizeGet(browser, authParams(login, { redirect_uri: undefined }))
  t.equal(missing.statusCode, 400)
  t.match(missing.body, /PLATFORM_AUTH_REDIRECT_URI_NOT_REGISTERED/)
})

t.test('the second registered redirect_uri is accepted too', async (t) => {
  const { browser, login } = await started(t)
  const res = await authorizeGet(browser, authParams(login, { redirect_uri: 'https://tool.example/other-callback' }))
  const form = formOf(res.body)
  t.equal(form.action, 'https://tool.example/other-callback')
  t.ok(form.fields.id_token)
})

t.test('a message hint is used once: a replay is refused', async (t) => {
  const { browser, login } = await started(t)
  const first = await authorizeGet(browser, authParams(login))
  t.ok(formOf(first.body).fields.id_token)
  const again = await authorizeGet(browser, authParams(login))
  t.equal(oidcError(again.body).error, 'invalid_request')
  t.match(oidcError(again.body).error_description, /already used/)
})

t.test('a nonce is used once per client: a second launch with the same nonce is refused', async (t) => {
  const { browser, login } = await started(t)
  const nonce = 'the-same-nonce'
  t.ok(formOf((await authorizeGet(browser, authParams(login, { nonce }))).body).fields.id_token)
  const second = await startLaunch(browser)
  const replay = oidcError((await authorizeGet(browser, authParams(second, { nonce }))).body)
  t.equal(replay.error, 'invalid_request')
  t.match(replay.error_description, /nonce/)
})

t.test('a missing state passes through: the reply simply has none', async (t) => {
  const { browser, login } = await started(t)
  const res = await authorizeGet(browser, authParams(login, { state: undefined }))
  const form = formOf(res.body)
  t.ok(form.fields.id_token)
  t.notOk('state' in form.fields)
  const failed = formOf((await authorizeGet(browser, authParams(login, { state: undefined, scope: 'email' }))).body)
  t.equal(failed.fields.error, 'invalid_scope')
  t.notOk('state' in failed.fields)
})

t.test('a browser without the sign-in that started the launch gets login_required', async (t) => {
  const { app, login } = await started(t)
  const stranger = new Browser(app)
  const res = await authorizeGet(stranger, authParams(login))
  t.equal(oidcError(res.body).error, 'login_required')

  // Another signed-in user who learned the hint cannot use it either.
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const other = await authorizeGet(grace, authParams(login))
  t.equal(oidcError(other.body).error, 'login_required')
})

t.test('a launch started for one tool cannot be redeemed by another registered tool', async (t) => {
  const { browser, login } = await started(t)
  const res = await authorizeGet(browser, authParams(login, { client_id: 'private-tool', redirect_uri: 'https://private.example/callback' }))
  const reply = oidcError(res.body)
  t.equal(reply.action, 'https://private.example/callback')
  t.equal(reply.error, 'unauthorized_client')
})

t.test('unknown OAuth parameters are ignored', async (t) => {
  const { browser, login } = await started(t)
  const res = await authorizeGet(browser, authParams(login, { claims: '{}', ui_locales: 'fr', max_age: '10' }))
  t.ok(formOf(res.body).fields.id_token)
})

t.test('the Redis store being down is a 503, not a 500', async (t) => {
  const { browser, login, app } = await started(t)
  // Every read and write the authorization request makes fails as a lost Redis does.
  const store = app.store as unknown as Record<'take' | 'get' | 'batch' | 'claim', () => Promise<never>>
  for (const method of ['take', 'get', 'batch', 'claim'] as const) {
    const original = store[method]
    store[method] = async () => { throw Object.assign(new Error('down'), { code: 'LTILAUNCH_STORE_UNAVAILABLE', statusCode: 503 }) }
    t.teardown(() => { store[method] = original })
  }
  const res = await authorizeGet(browser, authParams(login))
  t.equal(res.statusCode, 503)
  t.ok(res.headers['retry-after'])
})

t.test('racing the same message hint: exactly one request gets a token', async (t) => {
  const { browser, login } = await started(t)
  const replies = await Promise.all(Array.from({ length: 8 }, async () => formOf((await authorizeGet(browser, authParams(login))).body).fields))
  t.equal(replies.filter((fields) => fields.id_token !== undefined).length, 1)
  t.equal(replies.filter((fields) => fields.error === 'invalid_request').length, 7)
})

t.test('prompt may be left out (it is optional in the LTI Security Framework); any other value than none is refused', async (t) => {
  const { browser, login } = await started(t)
  t.ok(formOf((await authorizeGet(browser, authParams(login, { prompt: undefined }))).body).fields.id_token)
  const second = await startLaunch(browser)
  t.equal(formOf((await authorizeGet(browser, authParams(second, { prompt: 'consent' }))).body).fields.error, 'invalid_request')
})
