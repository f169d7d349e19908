import { createServer, RedisStore } from '@ltilaunch/service-kit'
import { auditStreamEvents } from '@ltilaunch/service-kit/testing'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import t, { type Test } from 'tap'
import app from '../../../src/app.js'
import { createLink, main as registrationsCommand } from '../../../src/cli/registrations.js'
import { readConfig } from '../../../src/config.js'
import { REGISTRATIONS_MAP, type StoredRegistration } from '../../../src/lib/registration.js'
import { build, TEST_ENV, type App } from '../../helper.js'
import { freshLaunch, postCallback } from '../../support/launch.js'
import { startPlatform, type TestPlatform } from '../../support/platform.js'

/**
 * A platform that takes registrations (LTI-DR): its OpenID configuration
 * and registration endpoint on one origin, which is also the issuer of the
 * id_tokens that the test platform (its authorize endpoint and JWKS) signs.
 */
interface RegisteringPlatform {
  issuer: string
  configurationUrl: string
  platform: TestPlatform
  /** The configuration served; a test may change it. */
  configuration: Record<string, unknown>
  registrationStatus: number
  registrations: Array<{ authorization: string | undefined, body: Record<string, unknown> }>
}

async function startRegisteringPlatform (t: Test): Promise<RegisteringPlatform> {
  const platform = await startPlatform(t, { clientId: 'dyn-client-1' })
  const server = Fastify()
  const state = { registrationStatus: 200, registrations: [] } as unknown as RegisteringPlatform
  server.get('/.well-known/openid-configuration', async () => state.configuration)
  server.post('/register', async (request, reply) => {
    state.registrations.push({ authorization: request.headers.authorization, body: request.body as Record<string, unknown> })
    if (state.registrationStatus !== 200) return await reply.code(state.registrationStatus).send({ error: 'invalid_token', error_description: 'the registration token has expired' })
    return { ...(request.body as object), client_id: platform.clientId, 'https://purl.imsglobal.org/spec/lti-tool-configuration': { deployment_id: platform.deploymentId } }
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  const issuer = `http://127.0.0.1:${(server.addresses()[0] as { port: number }).port}`
  // The test platform signs as this issuer from now on.
  platform.issuer = issuer
  state.issuer = issuer
  state.platform = platform
  state.configurationUrl = `${issuer}/.well-known/openid-configuration`
  state.configuration = {
    issuer,
    authorization_endpoint: `${platform.env.authorize_url}`,
    registration_endpoint: `${issuer}/register`,
    jwks_uri: platform.env.jwks_endpoint,
    token_endpoint: `${issuer}/token`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    scopes_supported: ['openid'],
    response_types_supported: ['id_token'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['iss', 'sub', 'name', 'email'],
    'https://purl.imsglobal.org/spec/lti-platform-configuration': {
      product_family_code: 'test-lms',
      version: '1.0',
      messages_supported: [{ type: 'LtiResourceLinkRequest' }, { type: 'LtiDeepLinkingRequest' }]
    }
  }
  return state
}

function registerUrl (dr: RegisteringPlatform, extra: Record<string, string> = {}): string {
  return `/lti13/register?${new URLSearchParams({ openid_configuration: dr.configurationUrl, registration_token: 'reg-token-1', ...extra }).toString()}`
}

function pendingOf (body: string): string {
  const match = /name="pending" value="([^"]+)"/.exec(body)
  if (match === null) throw new Error(`no pending registration in the page: ${body.slice(0, 300)}`)
  return match[1] as string
}

async function confirm (app: App, pending: string, fields: Record<string, string> = {}) {
  return await app.inject({
    method: 'POST',
    url: '/lti13/register/confirm',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    payload: new URLSearchParams({ pending, ...fields }).toString()
  })
}

/** The app with no platform in its configuration: every platform comes by URL. */
async function buildDynamic (t: Test, env: Record<string, string | undefined> = {}) {
  return await build(t, { env: { issuer: undefined, client_id: undefined, authorize_url: undefined, jwks_endpoint: undefined, ...env } })
}

t.test('a platform registers by a one-time link, is stored with its endpoints and namespace, and its users launch', async (t) => {
  const app = await buildDynamic(t)
  const dr = await startRegisteringPlatform(t)
  const { url } = await createLink(app.store, app.config)
  const link = new URL(url).searchParams.get('link') as string
  t.match(url, /^https:\/\/tool\.test\/lti13\/register\?link=/)

  const review = await app.inject({ method: 'GET', url: registerUrl(dr, { link }) })
  t.equal(review.statusCode, 200, review.body)
  t.match(review.body, dr.issuer, 'the operator sees the issuer')
  t.match(review.body, 'test-lms 1.0')
  t.match(review.body, 'value="127.0.0.1-')
  t.equal(dr.registrations.length, 0, 'nothing is registered before the operator confirms')

  const done = await confirm(app, pendingOf(review.body), { username_prefix: 'lms1-', username_suffix: '', admin_roles: 'Administrator' })
  t.equal(done.statusCode, 200, done.body)
  t.match(done.body, "(window.opener || window.parent).postMessage({ subject: 'org.imsglobal.lti.close' }, '*')")
  t.match(done.body, 'dyn-client-1')

  const sent = dr.registrations[0]
  t.equal(sent?.authorization, 'Bearer reg-token-1', 'the registration token is the bearer')
  t.match(sent?.body, {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: 'https://tool.test/lti13/oauth_login',
    redirect_uris: ['https://tool.test/lti13/oauth_callback', 'https://tool.test/lti13/launch'],
    jwks_uri: 'https://tool.test/lti13/jwks',
    token_endpoint_auth_method: 'private_key_jwt',
    'https://purl.imsglobal.org/spec/lti-tool-configuration': {
      domain: 'tool.test',
      target_link_uri: 'https://tool.test/lti13/launch',
      custom_parameters: { email: '$Person.email.primary' },
      messages: [
        { type: 'LtiResourceLinkRequest', placements: ['course_navigation'] },
        { type: 'LtiDeepLinkingRequest', target_link_uri: 'https://tool.test/lti13/launch' }
      ]
    }
  })

  const stored = await app.store.mapGet<StoredRegistration>(REGISTRATIONS_MAP, dr.issuer)
  t.match(stored, {
    issuer: dr.issuer,
    client_ids: ['dyn-client-1'],
    authorize_url: dr.platform.env.authorize_url,
    jwks_endpoint: dr.platform.env.jwks_endpoint,
    token_endpoint: `${dr.issuer}/token`,
    deployment_ids: ['deployment-1'],
    username_prefix: 'lms1-',
    username_suffix: '',
    admin_roles: ['Administrator'],
    authorized_by: 'link'
  })

  // A launch from the new platform goes through, by the same code as a configured one.
  const launch = await freshLaunch(app, dr.platform)
  const res = await postCallback(app, { id_token: launch.idToken, state: launch.state, cookie: launch.cookie })
  t.equal(res.statusCode, 303, res.body)

  // The link was spent.
  const again = await app.inject({ method: 'GET', url: registerUrl(dr, { link }), headers: { accept: 'application/json' } })
  t.equal(again.statusCode, 403)
  t.equal(again.json().code, 'TOOL_AUTH_REGISTRATION_LINK_INVALID')
})

t.test('a registration made on one replica is seen at once by another sharing the store', async (t) => {
  const first = await buildDynamic(t)
  const config = readConfig({ ...TEST_ENV, issuer: undefined, client_id: undefined, authorize_url: undefined, jwks_endpoint: undefined } as unknown as NodeJS.ProcessEnv)
  const second = createServer({ service: 'tool-auth', config, logger: false })
  await second.register(fp(app), { config, store: first.store })
  await second.ready()
  t.teardown(async () => await second.close())
  const dr = await startRegisteringPlatform(t)
  await t.rejects(second.platforms.get(dr.issuer), { code: 'TOOL_AUTH_ISSUER_UNKNOWN' })
  const { url } = await createLink(first.store, first.config)
  const review = await first.inject({ method: 'GET', url: registerUrl(dr, { link: new URL(url).searchParams.get('link') as string }) })
  t.equal((await confirm(first, pendingOf(review.body))).statusCode, 200)
  const seen = await second.platforms.get(dr.issuer)
  t.same(seen.clientIds, ['dyn-client-1'])
  t.equal(seen.authorizeUrl, dr.platform.env.authorize_url)
})

t.test('the operator secret authorizes a registration; a wrong one is refused', async (t) => {
  const app = await buildDynamic(t, { REGISTRATION_SECRET: 'operator-secret-0123456789' })
  const dr = await startRegisteringPlatform(t)
  const ask = await app.inject({ method: 'GET', url: registerUrl(dr) })
  t.equal(ask.statusCode, 200)
  t.match(ask.body, 'name="secret"')
  t.notMatch(ask.body, 'name="pending"', 'no configuration is fetched before the operator is known')
  const post = async (secret: string) => await app.inject({
    method: 'POST',
    url: '/lti13/register/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    payload: new URLSearchParams({ openid_configuration: dr.configurationUrl, registration_token: 'reg-token-1', secret }).toString()
  })
  const wrong = await post('not-the-secret')
  t.equal(wrong.statusCode, 403)
  t.equal(wrong.json().code, 'TOOL_AUTH_REGISTRATION_NOT_AUTHORIZED')
  const right = await post('operator-secret-0123456789')
  t.equal(right.statusCode, 200, right.body)
  t.equal((await confirm(app, pendingOf(right.body))).statusCode, 200)
  t.match(await app.store.mapGet(REGISTRATIONS_MAP, dr.issuer), { authorized_by: 'secret', username_prefix: '' })
})

t.test('refusals, each with its code', async (t) => {
  const app = await buildDynamic(t)
  const dr = await startRegisteringPlatform(t)
  const get = async (url: string) => await app.inject({ method: 'GET', url, headers: { accept: 'application/json' } })
  const freshLink = async () => new URL((await createLink(app.store, app.config)).url).searchParams.get('link') as string

  t.test('no link and no operator secret', async (t) => {
    const res = await get(registerUrl(dr))
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_NOT_AUTHORIZED')
    t.equal(dr.registrations.length, 0)
  })
  t.test('a link nobody issued', async (t) => {
    const res = await get(registerUrl(dr, { link: 'made-up' }))
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_LINK_INVALID')
  })
  t.test('no openid_configuration', async (t) => {
    const res = await get(`/lti13/register?link=${await freshLink()}`)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_PARAM_INVALID')
  })
  t.test('a configuration that cannot be read', async (t) => {
    const res = await get(`/lti13/register?${new URLSearchParams({ link: await freshLink(), openid_configuration: 'http://127.0.0.1:9/.well-known/openid-configuration' }).toString()}`)
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_CONFIGURATION_UNAVAILABLE')
    t.match(res.json().message, 'did not answer')
  })
  t.test('an issuer on another host than the configuration', async (t) => {
    dr.configuration.issuer = 'https://lms.elsewhere.example'
    t.teardown(() => { dr.configuration.issuer = dr.issuer })
    const res = await get(registerUrl(dr, { link: await freshLink() }))
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_ISSUER_MISMATCH')
  })
  t.test('an issuer the operator lists as shared passes the host rule (Canvas cloud)', async (t) => {
    const shared = await buildDynamic(t, { REGISTRATION_SHARED_ISSUERS: 'https://lms.elsewhere.example' })
    dr.configuration.issuer = 'https://lms.elsewhere.example'
    t.teardown(() => { dr.configuration.issuer = dr.issuer })
    const link = new URL((await createLink(shared.store, shared.config)).url).searchParams.get('link') as string
    const res = await shared.inject({ method: 'GET', url: registerUrl(dr, { link }) })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.body, 'https://lms.elsewhere.example')
  })
  t.test('a configuration without a registration endpoint', async (t) => {
    const endpoint = dr.configuration.registration_endpoint
    delete dr.configuration.registration_endpoint
    t.teardown(() => { dr.configuration.registration_endpoint = endpoint })
    const res = await get(registerUrl(dr, { link: await freshLink() }))
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_CONFIGURATION_INVALID')
    t.match(res.json().message, 'registration_endpoint')
  })
  t.test('configurations missing what LTI needs', async (t) => {
    const lti = 'https://purl.imsglobal.org/spec/lti-platform-configuration'
    const cases: Array<[string, (c: Record<string, unknown>) => void, RegExp]> = [
      ['no id_token responses', (c) => { c.response_types_supported = ['code'] }, /response_types_supported/],
      ['no resource link launches', (c) => { c[lti] = { product_family_code: 'x', messages_supported: [{ type: 'LtiDeepLinkingRequest' }] } }, /LtiResourceLinkRequest/],
      ['no LTI platform configuration', (c) => { Reflect.deleteProperty(c, lti) }, /lti-platform-configuration/],
      ['a javascript: token endpoint', (c) => { c.token_endpoint = 'javascript:alert(1)' }, /token_endpoint/],
      ['an issuer with a query', (c) => { c.issuer = `${dr.issuer}/?x=1` }, /query or fragment/]
    ]
    const original = JSON.stringify(dr.configuration)
    for (const [what, change, reason] of cases) {
      change(dr.configuration)
      const res = await get(registerUrl(dr, { link: await freshLink() }))
      dr.configuration = JSON.parse(original)
      t.equal(res.statusCode, 422, what)
      t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_CONFIGURATION_INVALID', what)
      t.match(res.json().message, reason, what)
    }
  })
  t.test('a platform that signs with an algorithm the tool does not accept', async (t) => {
    dr.configuration.id_token_signing_alg_values_supported = ['HS256']
    t.teardown(() => { dr.configuration.id_token_signing_alg_values_supported = ['RS256'] })
    const res = await get(registerUrl(dr, { link: await freshLink() }))
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_CONFIGURATION_INVALID')
  })
  t.test('a platform that refuses the registration: nothing stored, the link still works', async (t) => {
    dr.registrationStatus = 401
    const link = await freshLink()
    const review = await get(registerUrl(dr, { link }))
    const res = await confirm(app, pendingOf(review.body))
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_REFUSED')
    t.match(res.json().message, 'the registration token has expired')
    t.equal(await app.store.mapGet(REGISTRATIONS_MAP, dr.issuer), undefined)
    dr.registrationStatus = 200
    const retry = await get(registerUrl(dr, { link }))
    t.equal(retry.statusCode, 200, 'the same link can be used again')
  })
  t.test('a registered platform registers again: same endpoints add a client id, other endpoints are refused', async (t) => {
    const review = await get(registerUrl(dr, { link: await freshLink() }))
    t.equal((await confirm(app, pendingOf(review.body))).statusCode, 200)
    const first = await app.store.mapGet<StoredRegistration>(REGISTRATIONS_MAP, dr.issuer)
    dr.platform.clientId = 'dyn-client-2'
    t.teardown(() => { dr.platform.clientId = 'dyn-client-1' })
    const again = await get(registerUrl(dr, { link: await freshLink() }))
    t.match(again.body, 'already registered')
    t.equal((await confirm(app, pendingOf(again.body))).statusCode, 200)
    t.same((await app.store.mapGet<StoredRegistration>(REGISTRATIONS_MAP, dr.issuer))?.client_ids, [...(first?.client_ids ?? []), 'dyn-client-2'])
    const jwks = dr.configuration.jwks_uri
    dr.configuration.jwks_uri = 'http://127.0.0.1:9/other-keys'
    t.teardown(() => { dr.configuration.jwks_uri = jwks })
    const moved = await get(registerUrl(dr, { link: await freshLink() }))
    t.equal(moved.statusCode, 409)
    t.equal(moved.json().code, 'TOOL_AUTH_REGISTRATION_ENDPOINTS_CHANGED')
    t.match(await app.store.mapGet(REGISTRATIONS_MAP, dr.issuer), { jwks_endpoint: jwks }, 'the stored keys did not move')
  })
  t.test('a confirmation used twice', async (t) => {
    const review = await get(registerUrl(dr, { link: await freshLink() }))
    const pending = pendingOf(review.body)
    t.equal((await confirm(app, pending)).statusCode, 200)
    const again = await confirm(app, pending)
    t.equal(again.statusCode, 400)
    t.equal(again.json().code, 'TOOL_AUTH_REGISTRATION_EXPIRED')
  })
})

t.test('a platform in the configuration cannot be registered by URL (the file wins)', async (t) => {
  const dr = await startRegisteringPlatform(t)
  const app = await build(t, { env: { ...dr.platform.env, issuer: dr.issuer } })
  const { url } = await createLink(app.store, app.config)
  const res = await app.inject({ method: 'GET', url: registerUrl(dr, { link: new URL(url).searchParams.get('link') as string }), headers: { accept: 'application/json' } })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_CONFLICT')
})

t.test('DYNAMIC_REGISTRATION=off answers 404', async (t) => {
  const app = await build(t, { env: { DYNAMIC_REGISTRATION: 'off' } })
  const res = await app.inject({ method: 'GET', url: '/lti13/register?openid_configuration=https://lms.example/x', headers: { accept: 'application/json' } })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'TOOL_AUTH_REGISTRATION_OFF')
})

t.test('the operator command lists and removes registrations; a removed platform cannot launch', async (t) => {
  const app = await buildDynamic(t)
  const store = app.store as RedisStore
  const env = { ...TEST_ENV, issuer: undefined, client_id: undefined, authorize_url: undefined, jwks_endpoint: undefined, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: store.prefix, AUDIT_STREAM: `${store.prefix}audit` }
  const run = async (...argv: string[]) => {
    const lines: string[] = []
    const code = await registrationsCommand(argv, env as unknown as NodeJS.ProcessEnv, (line) => lines.push(line))
    return { code, lines }
  }
  const made = await run('link')
  t.equal(made.code, 0)
  const link = new URL(made.lines[0] as string).searchParams.get('link') as string
  const dr = await startRegisteringPlatform(t)
  const review = await app.inject({ method: 'GET', url: registerUrl(dr, { link }) })
  t.equal(review.statusCode, 200, 'the link the command made is accepted by the service')
  t.equal((await confirm(app, pendingOf(review.body))).statusCode, 200)

  const listed = await run('list')
  t.equal(listed.code, 0)
  t.match(JSON.parse(listed.lines[0] as string), { issuer: dr.issuer, client_ids: ['dyn-client-1'] })

  const removed = await run('remove', dr.issuer)
  t.same(removed, { code: 0, lines: [`removed ${dr.issuer}`] })
  t.equal((await run('remove', dr.issuer)).code, 1, 'removing twice says it is not there')
  t.match(await auditStreamEvents(store.redis, `${store.prefix}audit`), [
    { type: 'tool.registration.removed', outcome: 'success', service: 'tool-auth', target: { issuer: dr.issuer } },
    { type: 'tool.registration.removed', outcome: 'failure', error_code: 'TOOL_AUTH_NOT_FOUND', target: { issuer: dr.issuer } }
  ], 'each removal is in the audit stream')
  const login = await app.inject({ method: 'GET', url: `/lti13/oauth_login?${new URLSearchParams({ iss: dr.issuer, login_hint: 'h', target_link_uri: 'https://tool.test/lti13/launch' }).toString()}`, headers: { accept: 'application/json' } })
  t.equal(login.statusCode, 400)
  t.equal(login.json().code, 'TOOL_AUTH_ISSUER_UNKNOWN')
})

t.test("a registration whose usernames could meet a configured platform's is refused until it has its own namespace", async (t) => {
  // TEST_ENV configures one plain platform; a second plain one could hand its names to other people.
  const app = await build(t)
  const dr = await startRegisteringPlatform(t)
  const { url } = await createLink(app.store, app.config)
  const link = new URL(url).searchParams.get('link') as string
  const review = await app.inject({ method: 'GET', url: registerUrl(dr, { link }) })
  t.equal(review.statusCode, 200, review.body)
  const plain = await confirm(app, pendingOf(review.body), { username_prefix: '', username_suffix: '' })
  t.equal(plain.statusCode, 409)
  t.equal(plain.json().code, 'TOOL_AUTH_REGISTRATION_NAMESPACE_TAKEN')
  t.match(plain.json().message, 'https://platform.invalid')
  t.equal(dr.registrations.length, 0, 'the platform never heard of it')

  const again = await app.inject({ method: 'GET', url: registerUrl(dr, { link }) })
  t.equal(again.statusCode, 200, 'the link was not spent')
  const own = await confirm(app, pendingOf(again.body), { username_prefix: 'lms1-', username_suffix: '' })
  t.equal(own.statusCode, 200, own.body)
  t.same((await app.platforms.get(dr.issuer)).namespace, { prefix: 'lms1-', suffix: '' })
})
