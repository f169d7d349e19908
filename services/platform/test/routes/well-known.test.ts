import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import t from 'tap'
import { authorizeGet, authParams, Browser, build, formOf, signIn, startLaunch, TEST_SIGNING_KEY, type App } from '../helper.js'

const pem = (type: 'rsa' | 'ec') => (type === 'rsa'
  ? generateKeyPairSync('rsa', { modulusLength: 2048 })
  : generateKeyPairSync('ec', { namedCurve: 'P-256' })).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

async function issueToken (app: App): Promise<string> {
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const login = await startLaunch(browser)
  return formOf((await authorizeGet(browser, authParams(login))).body).fields.id_token as string
}

t.test('the JWKS publishes the signing key with use, alg and its RFC 7638 thumbprint as kid, at both addresses', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject('/.well-known/jwks.json')
  t.equal(res.statusCode, 200)
  t.match(res.headers['cache-control'], /max-age=/)
  const { keys } = res.json()
  t.equal(keys.length, 1)
  const [key] = keys
  t.match(key, { kty: 'RSA', use: 'sig', alg: 'RS256', e: 'AQAB', n: String })
  t.notOk('d' in key || 'p' in key || 'q' in key, 'no private part')
  t.equal(key.kid, await calculateJwkThumbprint({ kty: key.kty, n: key.n, e: key.e }, 'sha256'))
  t.same((await app.inject('/lti/jwks')).json(), res.json())
})

t.test('rotation: a next key is published but does not sign; a retired key stays published', async (t) => {
  const next = pem('rsa')
  const retired = pem('ec')
  const app = await build(t, { env: { PLATFORM_NEXT_KEY: next, PLATFORM_RETIRED_KEYS: retired } })
  const { keys } = (await app.inject('/.well-known/jwks.json')).json() as { keys: Array<{ kid: string, alg: string }> }
  t.equal(keys.length, 3)
  t.equal(keys[0]?.kid, app.keys.kid)
  t.same(keys.map((key) => key.alg), ['RS256', 'RS256', 'ES256'])
  const token = await issueToken(app)
  t.equal(decodeProtectedHeader(token).kid, app.keys.kid, 'signed by the current key, not the next one')
  await jwtVerify(token, createLocalJWKSet({ keys: keys as never }))

  // The next key promoted: what the previous signing key signed still verifies while it is retired.
  const promoted = await build(t, { env: { PLATFORM_SIGNING_KEY: next, PLATFORM_RETIRED_KEYS: TEST_SIGNING_KEY } })
  t.equal(promoted.keys.kid, keys[1]?.kid, 'the next key now signs, under the kid tools already know')
  const published = (await promoted.inject('/.well-known/jwks.json')).json()
  await jwtVerify(token, createLocalJWKSet(published), { currentDate: new Date() })
  t.equal(decodeProtectedHeader(await issueToken(promoted)).kid, promoted.keys.kid)
})

t.test('an EC P-256 key signs with ES256', async (t) => {
  const app = await build(t, { env: { PLATFORM_SIGNING_KEY: pem('ec') } })
  const token = await issueToken(app)
  t.equal(decodeProtectedHeader(token).alg, 'ES256')
  const jwks = (await app.inject('/.well-known/jwks.json')).json()
  t.match(jwks.keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
  await jwtVerify(token, createLocalJWKSet(jwks))
})

t.test('without a configured key one is generated once, kept across restarts, and the log says so', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'platform-keys-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const env = { PLATFORM_SIGNING_KEY: '', PLATFORM_SESSION_SECRET: '', PLATFORM_SUBJECT_SECRET: '', PLATFORM_KEY_DIR: dir }
  const first = await build(t, { env, store: 'memory' })
  const kid = first.keys.kid
  await first.close()
  t.equal((await stat(join(dir, 'signing-key.pem'))).mode & 0o777, 0o600, 'the key file is private')
  t.match(await readFile(join(dir, 'signing-key.pem'), 'utf8'), /BEGIN PRIVATE KEY/)
  const second = await build(t, { env, store: 'memory' })
  t.equal(second.keys.kid, kid, 'the same key after a restart')
  t.equal(second.keys.sessionSecret, first.keys.sessionSecret)
})

t.test('in production nothing is generated: a missing key stops the start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'platform-keys-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const before = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.teardown(() => { process.env.NODE_ENV = before })
  await t.rejects(build(t, { env: { PLATFORM_SIGNING_KEY: '', PLATFORM_KEY_DIR: dir }, store: 'memory' }), /PLATFORM_SIGNING_KEY is not set/)
})

t.test('the OpenID configuration describes the platform, with the LTI platform-configuration block', async (t) => {
  const app = await build(t, { store: 'memory', env: { PLATFORM_NEXT_KEY: pem('ec') } })
  const config = (await app.inject('/.well-known/openid-configuration')).json()
  t.match(config, {
    issuer: 'http://platform.test',
    authorization_endpoint: 'http://platform.test/lti/authorize',
    jwks_uri: 'http://platform.test/.well-known/jwks.json',
    scopes_supported: ['openid', 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
      'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly', 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
      'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly'],
    response_types_supported: ['id_token'],
    response_modes_supported: ['form_post'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256']
  })
  t.ok(config.claims_supported.includes('https://purl.imsglobal.org/spec/lti/claim/custom'))
  const lti = config['https://purl.imsglobal.org/spec/lti-platform-configuration']
  t.match(lti, { product_family_code: 'ltilaunch', version: String, messages_supported: [{ type: 'LtiResourceLinkRequest' }] })
  t.ok(lti.variables.includes('$Person.email.primary'))
})

t.test('PLATFORM_ISSUER sets iss apart from the public URL', async (t) => {
  const app = await build(t, { store: 'memory', env: { PLATFORM_ISSUER: 'https://lms.example.edu' } })
  const config = (await app.inject('/.well-known/openid-configuration')).json()
  t.equal(config.issuer, 'https://lms.example.edu')
  t.equal(config.authorization_endpoint, 'http://platform.test/lti/authorize')
})
