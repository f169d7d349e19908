import t from 'tap'
import { build } from '../../helper.js'
import { login } from '../../support/launch.js'
import { startPlatform, TARGET } from '../../support/platform.js'

// Ported from jupyterhub/ltiauthenticator tests/lti13:
//  - test_lti_13_handler_paths (the three routes exist)
//  - test_lti13_login_init_handler_invocation[GET|POST]
//  - test_lti13_login_init_handler_auth_request_contains_required_arguments
//  - test_validate_login_request_with_invalid_data (missing parameters)
// plus what ltiauthenticator does not check: iss, client_id, target hosts, deployment.

t.test('the LTI routes exist (ltiauthenticator: test_lti_13_handler_paths)', async (t) => {
  const app = await build(t, { store: 'memory' })
  for (const url of ['/lti13/config', '/lti13/oauth_login', '/lti13/login', '/lti13/oauth_callback', '/lti13/jwks']) {
    const res = await app.inject({ method: 'GET', url })
    t.not(res.statusCode, 404, url)
  }
})

for (const method of ['GET', 'POST'] as const) {
  t.test(`${method} login initiation stores the state, sets the cookie and redirects with the OIDC parameters`, async (t) => {
    const platform = await startPlatform(t)
    const app = await build(t, { env: platform.env })
    const params = { iss: platform.issuer, login_hint: 'hint-9', target_link_uri: TARGET, lti_message_hint: 'msg-7', client_id: platform.clientId }
    const query = new URLSearchParams(params).toString()
    const res = method === 'GET'
      ? await app.inject({ method, url: `/lti13/oauth_login?${query}` })
      : await app.inject({ method, url: '/lti13/oauth_login', payload: query, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    t.equal(res.statusCode, 302)
    const location = new URL(res.headers.location as string)
    t.equal(`${location.origin}${location.pathname}`, `${platform.issuer}/authorize`)
    const sent = Object.fromEntries(location.searchParams)
    t.match(sent, {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      prompt: 'none',
      client_id: platform.clientId,
      redirect_uri: 'https://tool.test/lti13/oauth_callback',
      login_hint: 'hint-9',
      lti_message_hint: 'msg-7'
    })
    t.ok(sent.state && sent.state.length >= 43, 'an unguessable state')
    t.ok(sent.nonce && sent.nonce.length >= 43, 'an unguessable nonce')
    const cookie = res.cookies.find((c) => c.name === 'lti13_state')
    t.equal(cookie?.value, sent.state, 'the state cookie carries the state')
    t.equal(cookie?.httpOnly, true)
    t.equal(cookie?.secure, true, 'Secure on https')
    t.equal(cookie?.sameSite, 'None', 'SameSite=None so that a launch inside an LMS iframe works')
    t.match(res.headers['set-cookie'], /Partitioned/, 'partitioned (CHIPS), so it survives third-party cookie blocking in the iframe')
    const stored = await app.store.get<{ nonce: string, issuer: string, clientId: string }>(`state:${sent.state}`)
    t.match(stored, { nonce: sent.nonce, issuer: platform.issuer, clientId: platform.clientId })
  })
}

t.test('the /lti13/login alias works the same', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }).toString()
  const res = await app.inject(`/lti13/login?${query}`)
  t.equal(res.statusCode, 302)
  t.equal(new URL(res.headers.location as string).searchParams.get('client_id'), platform.clientId, 'the only client id is used when none is sent')
})

for (const missing of ['iss', 'login_hint', 'target_link_uri']) {
  t.test(`a login without ${missing} is a 400 naming it (ltiauthenticator: test_validate_login_request_with_invalid_data)`, async (t) => {
    const platform = await startPlatform(t)
    const app = await build(t, { env: platform.env, store: 'memory' })
    const params: Record<string, string> = { iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }
    delete params[missing]
    const res = await app.inject(`/lti13/oauth_login?${new URLSearchParams(params).toString()}`)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'TOOL_AUTH_LOGIN_PARAM_MISSING')
    t.match(res.json().message, `"${missing}"`)
  })
}

t.test('a login with no parameters at all is refused, and a browser gets a page', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject({ url: '/lti13/oauth_login', headers: { accept: 'text/html' } })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, 'TOOL_AUTH_LOGIN_PARAM_MISSING')
})

t.test('an unknown issuer, an unknown client id, a foreign target and an unlisted deployment are refused', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, deployment_ids: 'deployment-1' }, store: 'memory' })
  const base = { iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }
  const cases: Array<[Record<string, string>, string]> = [
    [{ iss: 'https://evil.example' }, 'TOOL_AUTH_ISSUER_UNKNOWN'],
    [{ client_id: 'someone-else' }, 'TOOL_AUTH_CLIENT_UNKNOWN'],
    [{ target_link_uri: 'https://evil.example/lti13/launch' }, 'TOOL_AUTH_TARGET_NOT_ALLOWED'],
    [{ target_link_uri: 'javascript:alert(1)' }, 'TOOL_AUTH_TARGET_NOT_ALLOWED'],
    [{ target_link_uri: 'https://tool.test/lti13/launch?next=https://evil.example/' }, 'TOOL_AUTH_TARGET_NOT_ALLOWED'],
    [{ target_link_uri: 'https://tool.test/lti13/launch?next=/\\evil.example/' }, 'TOOL_AUTH_TARGET_NOT_ALLOWED'],
    [{ lti_deployment_id: 'deployment-9' }, 'TOOL_AUTH_DEPLOYMENT_UNKNOWN']
  ]
  for (const [change, code] of cases) {
    const res = await app.inject(`/lti13/oauth_login?${new URLSearchParams({ ...base, ...change }).toString()}`)
    t.equal(res.statusCode, 400, JSON.stringify(change))
    t.equal(res.json().code, code, JSON.stringify(change))
    t.notOk(res.cookies.some((c) => c.name === 'lti13_state'), 'no state cookie for a refused login')
  }
})

t.test('a client id is required when the issuer has several', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, client_id: `${platform.clientId},second-client` }, store: 'memory' })
  const res = await app.inject(`/lti13/oauth_login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }).toString()}`)
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'TOOL_AUTH_CLIENT_UNKNOWN')
  const ok = await login(app, platform, { client_id: 'second-client' })
  t.equal(ok.authorize.searchParams.get('client_id'), 'second-client')
})

t.test('an authorize URL with its own query keeps it', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, authorize_url: `${platform.issuer}/authorize?tenant=7` }, store: 'memory' })
  const started = await login(app, platform)
  t.equal(started.authorize.searchParams.get('tenant'), '7')
  t.ok(started.authorize.searchParams.get('state'))
})

t.test('on http the state cookie is SameSite=Lax and not Secure (browsers refuse None without Secure)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, PUBLIC_URL: 'http://tool.test' }, store: 'memory' })
  const res = await app.inject(`/lti13/oauth_login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: 'http://tool.test/lti13/launch' }).toString()}`)
  const cookie = res.cookies.find((c) => c.name === 'lti13_state')
  t.equal(cookie?.sameSite, 'Lax')
  t.notOk(cookie?.secure)
})
