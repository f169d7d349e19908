import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { readConfig } from '../src/config.js'
import { build, TEST_ENV } from './helper.js'

// Settings: ltiauthenticator's names, several platforms, and refusal of bad values at start.

const platformEnv = { issuer: 'https://lms.example', client_id: 'c1', authorize_url: 'https://lms.example/auth', jwks_endpoint: 'https://lms.example/jwks' }

t.test('ltiauthenticator defaults: username_key email, max_age 600, uri_scheme auto (test_authenticator_uri_scheme_defaults_to_auto)', async (t) => {
  const config = readConfig(platformEnv)
  t.equal(config.username_key, 'email')
  t.equal(config.max_age, 600)
  t.equal(config.time_leeway, 10, 'ltilaunch differs here: 10 s, not 0 (an LMS clock a second ahead must not fail launches)')
  t.equal(config.uri_scheme, 'auto')
  t.same(config.platforms, [{
    issuer: 'https://lms.example',
    clientIds: ['c1'],
    authorizeUrl: 'https://lms.example/auth',
    jwksEndpoint: 'https://lms.example/jwks',
    deploymentIds: [],
    usernameKey: 'email',
    namespace: { prefix: '', suffix: '' },
    adminRoles: [],
    serviceHosts: []
  }], 'one platform: plain names, no admins from LTI, no token URL (no LTI Advantage services)')
  t.same(config.idTokenAlgorithms, ['RS256'])
})

t.test('uri_scheme is case-insensitive (test_authenticator_uri_scheme_setter_is_case_insenstive)', async (t) => {
  t.equal(readConfig({ ...platformEnv, uri_scheme: 'Https' }).uri_scheme, 'https')
  t.throws(() => readConfig({ ...platformEnv, uri_scheme: 'ftp' }), /uri_scheme/)
})

t.test('client_id takes a comma list', async (t) => {
  t.same(readConfig({ ...platformEnv, client_id: 'a, b,c' }).platforms[0]?.clientIds, ['a', 'b', 'c'])
})

t.test('PLATFORMS_FILE registers several platforms, alongside the single-platform settings', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'platforms.json')
  writeFileSync(file, JSON.stringify([
    { issuer: 'https://a.example', client_ids: ['x', 'y'], authorize_url: 'https://a.example/auth', jwks_endpoint: 'https://a.example/jwks', deployment_ids: ['1', 2], username_prefix: 'a-' },
    { issuer: 'https://b.example', client_id: 'z', authorize_url: 'https://b.example/auth', jwks_endpoint: 'https://b.example/jwks', username_prefix: 'b-' }
  ]))
  const config = readConfig({ ...platformEnv, PLATFORMS_FILE: file, USERNAME_PREFIX: 'lms-' })
  t.same(config.platforms.map((p) => p.issuer), ['https://a.example', 'https://b.example', 'https://lms.example'])
  t.same(config.platforms[0]?.deploymentIds, ['1', '2'])
})

t.test('PLATFORMS_FILE may be YAML', async (t) => {
  const dir = t.testdir({
    'platforms.yaml': [
      '- issuer: https://a.example',
      '  client_ids: [x, y]',
      '  authorize_url: https://a.example/auth',
      '  jwks_endpoint: https://a.example/jwks',
      '  username_prefix: a-',
      ''
    ].join('\n')
  })
  const config = readConfig({ ...platformEnv, PLATFORMS_FILE: join(dir, 'platforms.yaml'), USERNAME_PREFIX: 'lms-' })
  t.same(config.platforms[0]?.clientIds, ['x', 'y'])
})

t.test('bad settings stop the start, each named', async (t) => {
  const dir = t.testdir({ 'bad.json': '{ not json', 'dup.json': JSON.stringify([{ ...platformEnv, client_ids: ['c1'] }]) })
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ DYNAMIC_REGISTRATION: 'off' }, /no platform is registered/],
    [{ ...platformEnv, jwks_endpoint: 'not a url' }, /jwks_endpoint/],
    [{ issuer: 'https://x' }, /client_ids/],
    [{ ...platformEnv, PLATFORMS_FILE: join(dir, 'missing.json') }, /PLATFORMS_FILE: .*cannot read/],
    [{ ...platformEnv, PLATFORMS_FILE: join(dir, 'bad.json') }, /PLATFORMS_FILE: .*not valid JSON/],
    [{ ...platformEnv, PLATFORMS_FILE: join(dir, 'dup.json') }, /registered twice/],
    [{ ...platformEnv, ID_TOKEN_ALGORITHMS: 'HS256' }, /ID_TOKEN_ALGORITHMS: HS256/],
    [{ ...platformEnv, ID_TOKEN_ALGORITHMS: 'none' }, /ID_TOKEN_ALGORITHMS: none/],
    [{ ...platformEnv, BROKER_URL: 'http://localhost:3002' }, /BROKER_SERVICE_TOKEN is required/],
    [{ ...platformEnv, HUB_CLIENT_ID: 'jupyterhub' }, /go together/],
    [{ ...platformEnv, HUB_CLIENT_ID: 'jupyterhub', HUB_CLIENT_SECRET: 'short', HUB_REDIRECT_URI: 'http://h/cb' }, /HUB_CLIENT_SECRET/],
    [{ ...platformEnv, max_age: '0' }, /max_age/]
  ]
  for (const [env, message] of cases) t.throws(() => readConfig(env), message, JSON.stringify(env))
})

t.test('ALLOWED_HOSTS defaults to the PUBLIC_URL host', async (t) => {
  t.same(readConfig({ ...platformEnv, PUBLIC_URL: 'https://Tool.Example:8443' }).allowedHosts, ['tool.example:8443'])
  t.same(readConfig({ ...platformEnv, PUBLIC_URL: 'https://tool.example', ALLOWED_HOSTS: 'hub.example, tool.example' }).allowedHosts, ['hub.example', 'tool.example'])
})

t.test('/lti13/config has ltiauthenticator\'s fields plus redirect_uris and public_jwk_url', async (t) => {
  const app = await build(t, { store: 'memory', env: { tool_name: 'Notebooks', tool_description: 'Your own notebook server' } })
  const res = await app.inject('/lti13/config')
  t.equal(res.statusCode, 200)
  const config = res.json()
  t.match(config, {
    title: 'Notebooks',
    description: 'Your own notebook server',
    oidc_initiation_url: 'https://tool.test/lti13/oauth_login',
    target_link_uri: 'https://tool.test/lti13/launch',
    redirect_uris: ['https://tool.test/lti13/oauth_callback', 'https://tool.test/lti13/launch'],
    public_jwk_url: 'https://tool.test/lti13/jwks',
    scopes: [],
    custom_fields: { email: '$Person.email.primary', lms_user_id: '$User.id' }
  })
  const placement = config.extensions[0].settings.placements.find((p: { placement: string }) => p.placement === 'course_navigation')
  t.equal(config.extensions[0].platform, 'canvas.instructure.com')
  t.equal(config.extensions[0].privacy_level, 'public')
  t.match(placement, { message_type: 'LtiResourceLinkRequest', windowTarget: '_blank', target_link_uri: 'https://tool.test/lti13/launch', custom_fields: { email: '$Person.email.primary', lms_user_id: '$User.id' } })
  t.same(config.extensions[0].settings.placements.map((p: { placement: string, message_type: string }) => [p.placement, p.message_type]), [
    ['course_navigation', 'LtiResourceLinkRequest'],
    ['assignment_selection', 'LtiDeepLinkingRequest'],
    ['link_selection', 'LtiDeepLinkingRequest']
  ], 'ltiauthenticator 1.6\'s placements; the content ones open the deep linking picker')
})

t.test('uri_scheme: manual schemes win; auto reads the first forwarded scheme (test_authenticator_infers_uri_scheme_if_set_to_auto, test_authenticator_returns_manually_specified_uri_scheme)', async (t) => {
  const headers: Array<[Record<string, string>, string]> = [
    [{}, 'http'],
    [{ 'x-forwarded-proto': 'https, http' }, 'https'],
    [{ 'x-scheme': 'https' }, 'https'],
    [{ forwarded: 'for=1.2.3.4;proto=https;by=5.6.7.8' }, 'https']
  ]
  const auto = await build(t, { store: 'memory', env: { PUBLIC_URL: undefined } })
  for (const [header, scheme] of headers) {
    const res = await auto.inject({ url: '/lti13/config', headers: { host: 'tool.example', ...header } })
    t.equal(res.json().target_link_uri, `${scheme}://tool.example/lti13/launch`, JSON.stringify(header))
  }
  for (const scheme of ['http', 'https']) {
    const manual = await build(t, { store: 'memory', env: { PUBLIC_URL: undefined, uri_scheme: scheme } })
    const res = await manual.inject({ url: '/lti13/config', headers: { host: 'tool.example', 'x-forwarded-proto': scheme === 'http' ? 'https' : 'http' } })
    t.equal(res.json().target_link_uri, `${scheme}://tool.example/lti13/launch`)
  }
})

t.test('/lti13/jwks serves the public key only', async (t) => {
  const app = await build(t, { store: 'memory' })
  const { keys } = (await app.inject('/lti13/jwks')).json()
  t.equal(keys.length, 1)
  t.match(keys[0], { kty: 'RSA', alg: 'RS256', use: 'sig' })
  t.ok(keys[0].kid)
  for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) t.notOk(secret in keys[0], `no private member ${secret}`)
})

t.test('without TOOL_KEY a development key is generated once into TOOL_KEY_DIR and reused', async (t) => {
  const dir = join(t.testdir(), 'keys')
  const first = await build(t, { store: 'memory', env: { TOOL_KEY: undefined, TOOL_KEY_DIR: dir } })
  t.ok(existsSync(join(dir, 'tool-key.pem')))
  const pem = readFileSync(join(dir, 'tool-key.pem'), 'utf8')
  const second = await build(t, { store: 'memory', env: { TOOL_KEY: undefined, TOOL_KEY_DIR: dir } })
  t.equal(readFileSync(join(dir, 'tool-key.pem'), 'utf8'), pem)
  t.same((await first.inject('/lti13/jwks')).json(), (await second.inject('/lti13/jwks')).json(), 'the same key after a restart')
  t.not((await first.inject('/lti13/jwks')).json().keys[0].kid, undefined)
  t.ok(TEST_ENV.TOOL_KEY)
})

t.test('per-platform identity settings override the global ones', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'platforms.json')
  writeFileSync(file, JSON.stringify([
    { issuer: 'https://canvas.example', client_id: 'c', authorize_url: 'https://canvas.example/auth', jwks_endpoint: 'https://canvas.example/jwks', username_prefix: 'canvas-', username_key: 'sub', admin_roles: ['http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'] },
    { issuer: 'https://moodle.example', client_id: 'm', authorize_url: 'https://moodle.example/auth', jwks_endpoint: 'https://moodle.example/jwks', username_prefix: 'moodle-' }
  ]))
  const config = readConfig({ PLATFORMS_FILE: file, username_key: 'custom_login', ADMIN_ROLES: 'Administrator' })
  const [canvas, moodle] = config.platforms
  t.match(canvas, { usernameKey: 'sub', namespace: { prefix: 'canvas-', suffix: '' }, adminRoles: ['http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'] })
  t.match(moodle, { usernameKey: 'custom_login', namespace: { prefix: 'moodle-', suffix: '' }, adminRoles: ['Administrator'] }, 'the global settings where a platform has none')
})

t.test('two platforms that could produce the same usernames stop the start, naming both', async (t) => {
  const dir = t.testdir()
  const write = (name: string, entries: Array<Record<string, unknown>>): string => {
    const file = join(dir, name)
    writeFileSync(file, JSON.stringify(entries.map((entry, i) => ({ issuer: `https://lms${i}.example`, client_id: `c${i}`, authorize_url: `https://lms${i}.example/auth`, jwks_endpoint: `https://lms${i}.example/jwks`, ...entry }))))
    return file
  }
  t.throws(() => readConfig({ PLATFORMS_FILE: write('plain.json', [{}, {}]) }), /platforms https:\/\/lms0\.example \(no namespace\) and https:\/\/lms1\.example \(no namespace\) can produce the same usernames/)
  t.throws(() => readConfig({ PLATFORMS_FILE: write('nested.json', [{ username_prefix: 'a-' }, { username_prefix: 'a-b-' }]) }), /lms0\.example .*lms1\.example/, 'one prefix beginning the other')
  t.throws(() => readConfig({ ...platformEnv, PLATFORMS_FILE: write('one.json', [{}]) }), /lms0\.example .*lms\.example/, 'the issuer/client_id platform counts too')
  t.throws(() => readConfig({ PLATFORMS_FILE: write('mixed.json', [{ username_prefix: 'a-' }, { username_suffix: '@b' }]) }), /lms0\.example .*lms1\.example/, 'a prefix and a suffix can meet ("a-x@b")')
  t.doesNotThrow(() => readConfig({ PLATFORMS_FILE: write('legacy.json', [{}, { username_prefix: 'canvas-' }, { username_prefix: 'moodle-' }]) }), 'one plain platform beside namespaced ones (an upgrade keeps its names)')
  t.doesNotThrow(() => readConfig({ PLATFORMS_FILE: write('apart.json', [{ username_prefix: 'canvas-' }, { username_prefix: 'moodle-' }]) }))
  t.doesNotThrow(() => readConfig({ PLATFORMS_FILE: write('ends.json', [{ username_suffix: '@canvas' }, { username_suffix: '@moodle' }]) }))
  t.doesNotThrow(() => readConfig({ PLATFORMS_FILE: write('single.json', [{}]) }), 'one platform alone keeps plain names')
  t.throws(() => readConfig({ PLATFORMS_FILE: write('slash.json', [{ username_prefix: 'a/' }]) }), /username_prefix must be text/)
  t.throws(() => readConfig({ PLATFORMS_FILE: write('roles.json', [{ admin_roles: { x: 1 } }]) }), /admin_roles must be a list/)
})
