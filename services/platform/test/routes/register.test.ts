import t from 'tap'
import { REGISTERED_TOOLS_MAP, type StoredTool } from '../../src/lib/registrations.js'
import { Browser, build, formOf, signIn, TOOL, type App } from '../helper.js'

/** A tool's registration request, shaped as ltijs 5.9 sends it (messages without target_link_uri, AGS scopes asked). */
function registrationRequest (overrides: Record<string, unknown> = {}, tool: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: 'https://dyn.example/login',
    redirect_uris: ['https://dyn.example/launch'],
    client_name: 'Dynamic tool',
    jwks_uri: 'https://dyn.example/keys',
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
    'https://purl.imsglobal.org/spec/lti-tool-configuration': {
      domain: 'dyn.example',
      target_link_uri: 'https://dyn.example/launch',
      custom_parameters: { image: 'scipy' },
      claims: ['iss', 'sub'],
      messages: [{ type: 'LtiResourceLinkRequest' }, { type: 'LtiDeepLinkingRequest' }],
      ...tool
    },
    ...overrides
  }
}

/** An admin starts "Register a tool by URL"; returns the URL the tool is opened at. */
async function startRegistration (browser: Browser, url = 'https://dyn.example/register?link=abc'): Promise<URL> {
  const list = await browser.get('/admin/tools')
  if (list.statusCode !== 200) throw new Error(`admin page: ${list.statusCode} ${list.body.slice(0, 200)}`)
  const res = await browser.post('/admin/tools/register', { csrf: formOf(list.body).fields.csrf as string, url })
  if (res.statusCode !== 200) throw new Error(`register: ${res.statusCode} ${res.body.slice(0, 300)}`)
  const src = /<iframe id="registration" src="([^"]+)"/.exec(res.body)?.[1]
  if (src === undefined) throw new Error('no registration frame')
  return new URL(src.replaceAll('&amp;', '&'))
}

async function register (app: App, token: string | undefined, body: Record<string, unknown>) {
  return await app.inject({
    method: 'POST',
    url: '/lti/register',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    payload: body
  })
}

t.test('the OpenID configuration names the registration and token endpoints', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })
  t.match(res.json(), {
    issuer: 'http://platform.test',
    registration_endpoint: 'http://platform.test/lti/register',
    token_endpoint: 'http://platform.test/lti/token',
    token_endpoint_auth_methods_supported: ['private_key_jwt']
  })
  const token = await app.inject({ method: 'POST', url: '/lti/token', payload: { grant_type: 'client_credentials' } })
  t.equal(token.statusCode, 400)
  t.equal(token.json().error, 'invalid_request', 'a token needs a client assertion (RFC 7523)')
  t.equal(token.json().code, 'PLATFORM_TOKEN_REQUEST_INVALID')
})

t.test('an admin pastes a registration URL; the tool registers with the one-time token, gets a client id and deployment, is listed and launches', async (t) => {
  const app = await build(t)
  const admin = new Browser(app)
  await signIn(admin, 'alan')
  const opened = await startRegistration(admin)
  t.equal(opened.origin + opened.pathname, 'https://dyn.example/register')
  t.equal(opened.searchParams.get('link'), 'abc', 'the tool\'s own parameters are kept')
  t.equal(opened.searchParams.get('openid_configuration'), 'http://platform.test/.well-known/openid-configuration')
  const token = opened.searchParams.get('registration_token') as string
  t.ok(token.length >= 32)

  const res = await register(app, token, registrationRequest())
  t.equal(res.statusCode, 200, res.body)
  const answer = res.json()
  t.match(answer, {
    client_id: /^[0-9a-f-]{36}$/,
    initiate_login_uri: 'https://dyn.example/login',
    redirect_uris: ['https://dyn.example/launch'],
    scope: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
    'https://purl.imsglobal.org/spec/lti-tool-configuration': { deployment_id: /.+/, domain: 'dyn.example' }
  })
  const clientId = answer.client_id as string
  const deploymentId = answer['https://purl.imsglobal.org/spec/lti-tool-configuration'].deployment_id as string

  const stored = await app.store.mapGet<StoredTool>(REGISTERED_TOOLS_MAP, clientId)
  t.match(stored, { registered_by: 'alan', tool: { name: 'Dynamic tool', deployment_ids: [deploymentId], custom: { image: 'scipy' } } })
  t.match(await app.registry.tool(clientId), { clientId, deploymentIds: [deploymentId], jwksUri: 'https://dyn.example/keys' })
  t.same((await app.registry.tool(clientId))?.scopes, ['https://purl.imsglobal.org/spec/lti-ags/scope/score'], 'the service scopes it asked for are granted')

  const list = await admin.get('/admin/tools')
  t.match(list.body, clientId)
  t.match(list.body, 'by URL')

  // A signed-in user launches it from the launch page, like a tool of the file.
  const launchPage = await admin.get('/')
  t.match(launchPage.body, `<option value="${clientId}">Dynamic tool</option>`)
  const launch = await admin.post('/launch', { csrf: formOf(launchPage.body).fields.csrf as string, client_id: clientId, course: 'ds101' })
  t.equal(launch.statusCode, 303, launch.body)
  const login = new URL(launch.headers.location as string)
  t.equal(login.origin + login.pathname, 'https://dyn.example/login')
  t.equal(login.searchParams.get('client_id'), clientId)
  t.equal(login.searchParams.get('lti_deployment_id'), deploymentId)

  const again = await register(app, token, registrationRequest())
  t.equal(again.statusCode, 401, 'the token is used once')
  t.equal(again.json().code, 'PLATFORM_REGISTRATION_TOKEN_INVALID')
})

t.test('a registration made on one replica is seen at once by another', async (t) => {
  const first = await build(t)
  const second = await build(t, { store: first.store })
  const admin = new Browser(first)
  await signIn(admin, 'alan')
  const token = (await startRegistration(admin)).searchParams.get('registration_token') as string
  const clientId = (await register(first, token, registrationRequest())).json().client_id as string
  t.match(await second.registry.tool(clientId), { name: 'Dynamic tool' })
})

t.test('the registrations file wins over a stored tool with the same client id', async (t) => {
  const app = await build(t)
  await app.store.mapSet(REGISTERED_TOOLS_MAP, TOOL.clientId, {
    tool: { client_id: TOOL.clientId, name: 'Impostor', deployment_ids: ['x'], initiate_login_uri: 'https://evil.example/login', target_link_uri: 'https://evil.example/launch', redirect_uris: ['https://evil.example/cb'] },
    messages: [],
    registered_at: new Date().toISOString(),
    registered_by: 'alan'
  } satisfies StoredTool)
  t.match(await app.registry.tool(TOOL.clientId), { name: 'Test tool', initiateLoginUri: TOOL.login })
  const all = await app.registry.allTools()
  t.equal(all.filter((tool) => tool.clientId === TOOL.clientId).length, 1)
})

t.test('refusals, each with its code', async (t) => {
  const app = await build(t)

  t.test('a signed-out browser is sent to sign in; a non-admin is refused', async (t) => {
    const anonymous = await new Browser(app).get('/admin/tools')
    t.equal(anonymous.statusCode, 303)
    t.equal(anonymous.headers.location, '/login')
    const learner = new Browser(app)
    await signIn(learner, 'grace')
    const res = await learner.get('/admin/tools', { accept: 'application/json' })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'PLATFORM_ADMIN_REQUIRED')
    const page = await learner.get('/')
    const post = await learner.post('/admin/tools/register', { csrf: formOf(page.body).fields.csrf as string, url: 'https://dyn.example/register' }, { accept: 'application/json' })
    t.equal(post.statusCode, 403)
    t.equal(post.json().code, 'PLATFORM_ADMIN_REQUIRED')
  })

  t.test('a registration URL that is not http(s)', async (t) => {
    const admin = new Browser(app)
    await signIn(admin, 'alan')
    const list = await admin.get('/admin/tools')
    const res = await admin.post('/admin/tools/register', { csrf: formOf(list.body).fields.csrf as string, url: 'javascript:alert(1)' }, { accept: 'application/json' })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'PLATFORM_REGISTRATION_URL_INVALID')
  })

  t.test('no token, or one nobody issued', async (t) => {
    const none = await register(app, undefined, registrationRequest())
    t.equal(none.statusCode, 401)
    t.equal(none.json().code, 'PLATFORM_REGISTRATION_TOKEN_INVALID')
    const unknown = await register(app, 'made-up-token', registrationRequest())
    t.equal(unknown.statusCode, 401)
    t.equal(unknown.json().code, 'PLATFORM_REGISTRATION_TOKEN_INVALID')
    t.same(await app.registry.registered(), [])
  })

  t.test('an invalid registration is refused and does not spend the token', async (t) => {
    const admin = new Browser(app)
    await signIn(admin, 'alan')
    const token = (await startRegistration(admin)).searchParams.get('registration_token') as string
    const cases: Array<[Record<string, unknown>, Record<string, unknown>, RegExp]> = [
      [{ initiate_login_uri: 'javascript:alert(1)' }, {}, /initiate_login_uri/],
      [{ redirect_uris: [] }, {}, /redirect_uris/],
      [{ grant_types: ['client_credentials'] }, {}, /implicit/],
      [{ jwks_uri: undefined }, {}, /jwks_uri/],
      [{}, { target_link_uri: 'ftp://dyn.example/launch' }, /target_link_uri/],
      [{}, { custom_parameters: { 'bad name': 'x' } }, /custom parameter/],
      [{ 'https://purl.imsglobal.org/spec/lti-tool-configuration': undefined }, {}, /lti-tool-configuration/]
    ]
    for (const [overrides, tool, reason] of cases) {
      const body = registrationRequest(overrides, tool)
      for (const [name, value] of Object.entries(overrides)) if (value === undefined) Reflect.deleteProperty(body, name)
      const res = await register(app, token, body)
      t.equal(res.statusCode, 400, JSON.stringify(overrides))
      t.equal(res.json().code, 'PLATFORM_REGISTRATION_INVALID')
      t.match(res.json().message, reason)
    }
    t.equal((await register(app, token, registrationRequest())).statusCode, 200, 'the token still works once the request is right')
  })
})

t.test("a tool that registers the deep linking message can be asked for links: its deep_linking_url is that message's target, else the tool's", async (t) => {
  const app = await build(t)
  const admin = new Browser(app)
  await signIn(admin, 'alan')
  const cases: Array<[Record<string, unknown>, string | undefined]> = [
    [{}, 'https://dyn.example/launch'],
    [{ messages: [{ type: 'LtiResourceLinkRequest' }, { type: 'LtiDeepLinkingRequest', target_link_uri: 'https://dyn.example/pick' }] }, 'https://dyn.example/pick'],
    [{ messages: [{ type: 'LtiResourceLinkRequest' }] }, undefined]
  ]
  for (const [tool, expected] of cases) {
    const token = (await startRegistration(admin)).searchParams.get('registration_token') as string
    const res = await register(app, token, registrationRequest({}, tool))
    t.equal(res.statusCode, 200, res.body)
    const registered = await app.registry.tool(res.json().client_id as string)
    t.equal(registered?.deepLinkingUrl, expected, JSON.stringify(tool))
  }
})
