import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@ltilaunch/service-kit'
import { memoryStoreForTest } from '@ltilaunch/service-kit/testing'
import { exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet } from 'jose'
import t from 'tap'
import { readConfig, type Platform } from '../../src/config.js'
import { readIdentity } from '../../src/lib/hub-identity.js'
import { PlatformTokens, platformError } from '../../src/lib/platform-token.js'
import { retryDelay, scoresUrl } from '../../src/lib/scores.js'
import { platformHosts, serviceUrlAllowed } from '../../src/lib/service-urls.js'
import { TEST_ENV } from '../helper.js'

const platform = (extra: Partial<Platform> = {}): Platform => ({
  issuer: 'https://canvas.instructure.com',
  clientIds: ['c1'],
  authorizeUrl: 'https://sso.canvaslms.com/api/lti/authorize_redirect',
  jwksEndpoint: 'https://sso.canvaslms.com/api/lti/security/jwks',
  deploymentIds: [],
  usernameKey: 'email',
  namespace: { prefix: '', suffix: '' },
  adminRoles: [],
  tokenUrl: 'https://sso.canvaslms.com/login/oauth2/token',
  serviceHosts: ['school.instructure.com', '*.example.edu'],
  ...extra
})

t.test('a service URL must be http(s) on a host the platform vouches for', async (t) => {
  const p = platform()
  t.same(platformHosts(p).sort(), ['*.example.edu', 'canvas.instructure.com', 'school.instructure.com', 'sso.canvaslms.com'])
  t.ok(serviceUrlAllowed('https://school.instructure.com/api/lti/courses/1/line_items', p))
  t.ok(serviceUrlAllowed('https://lms.example.edu/lineitems', p), 'a *.domain entry covers its subdomains')
  t.notOk(serviceUrlAllowed('https://example.edu/lineitems', p), 'but not the domain itself')
  t.notOk(serviceUrlAllowed('https://evilexample.edu/lineitems', p))
  t.notOk(serviceUrlAllowed('http://169.254.169.254/latest/meta-data', p), 'no other host (cloud metadata)')
  t.notOk(serviceUrlAllowed('https://user:pw@school.instructure.com/x', p), 'no credentials in the URL')
  t.notOk(serviceUrlAllowed('file:///etc/passwd', p))
  t.notOk(serviceUrlAllowed('https://school.instructure.com.evil.org/x', p))
  t.notOk(serviceUrlAllowed(42, p))
  const local = platform({ issuer: 'http://127.0.0.1:4000', serviceHosts: [], tokenUrl: 'http://127.0.0.1:4001/token' })
  t.ok(serviceUrlAllowed('http://127.0.0.1:4001/lineitems', local), 'the token URL\'s host:port')
  t.notOk(serviceUrlAllowed('http://127.0.0.1:4002/lineitems', local), 'another port is another host')
})

t.test('token_url, token_audience and service_hosts are read per platform, and checked', async (t) => {
  const file = join(tmpdir(), `platforms-${process.pid}.json`)
  writeFileSync(file, JSON.stringify([{
    issuer: 'https://d2l.example.edu',
    client_ids: ['b1'],
    authorize_url: 'https://d2l.example.edu/d2l/lti/authenticate',
    jwks_endpoint: 'https://d2l.example.edu/d2l/.well-known/jwks',
    token_url: 'https://auth.brightspace.com/core/connect/token',
    token_audience: 'https://api.brightspace.com/auth/token',
    service_hosts: ['D2L.example.edu:8443'],
    username_prefix: 'd2l-'
  }]))
  t.teardown(() => rmSync(file, { force: true }))
  const config = readConfig({ ...TEST_ENV, PLATFORMS_FILE: file, token_url: 'https://platform.invalid/token' })
  const [fromFile, fromEnv] = config.platforms
  t.match(fromFile, { tokenUrl: 'https://auth.brightspace.com/core/connect/token', tokenAudience: 'https://api.brightspace.com/auth/token', serviceHosts: ['d2l.example.edu:8443'] })
  t.match(fromEnv, { issuer: 'https://platform.invalid', tokenUrl: 'https://platform.invalid/token', serviceHosts: [] })
  t.throws(() => readConfig({ ...TEST_ENV, token_url: 'ftp://x' }), ConfigError)
  writeFileSync(file, JSON.stringify([{ issuer: 'https://a.example', client_ids: ['x'], authorize_url: 'https://a.example/a', jwks_endpoint: 'https://a.example/j', token_url: 'javascript:alert(1)', service_hosts: ['a/b'], username_prefix: 'a-' }]))
  try {
    readConfig({ ...TEST_ENV, PLATFORMS_FILE: file })
    t.fail('accepted')
  } catch (err) {
    t.match((err as Error).message, /token_url must be an http\(s\) URL/)
    t.match((err as Error).message, /service_hosts must list hosts/)
  }
})

t.test('the hub\'s answer for a token: a user and the one server its scopes name', async (t) => {
  // JupyterHub 6.1's GET /hub/api/user for a server's token (scopes from the 'server' role, filters expanded).
  const server = { kind: 'user', name: 'ada@example.org', scopes: ['access:servers!server=ada@example.org/ds101-1a2b3c4d', 'users:activity!user=ada@example.org'], session_id: null, token_id: 'a7' }
  t.same(readIdentity(server), { username: 'ada@example.org', serverName: 'ds101-1a2b3c4d' })
  t.same(readIdentity({ ...server, scopes: ['access:servers!server=ada@example.org/', 'users:activity!user=ada@example.org'] }), { username: 'ada@example.org', serverName: '' }, 'the default server')
  t.same(readIdentity({ ...server, scopes: ['access:servers!user=ada@example.org', 'read:users!user=ada@example.org'] }), { username: 'ada@example.org' }, 'a user\'s own token names no server')
  t.same(readIdentity({ ...server, scopes: [...server.scopes, 'access:servers!server=ada@example.org/other'] }), { username: 'ada@example.org' }, 'two servers are no one server')
  t.same(readIdentity({ ...server, scopes: ['access:servers!server=grace/ds101'] }), { username: 'ada@example.org' }, 'another user\'s server is not this user\'s')
  t.equal(readIdentity({ kind: 'service', name: 'grader', scopes: [] }), undefined, 'a service is no user')
  t.equal(readIdentity({ kind: 'user' }), undefined)
  t.equal(readIdentity('nope'), undefined)
})

t.test('the client assertion: RFC 7523 claims, signed with the tool\'s key, aud the token URL or token_audience', async (t) => {
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwks = createLocalJWKSet({ keys: [{ ...await exportJWK(publicKey), kid: 'k1', alg: 'RS256' }] })
  const store = memoryStoreForTest(t)
  const tokens = new PlatformTokens({ store, signer: { privateKey, kid: 'k1', alg: 'RS256' }, timeoutMs: 1000 })
  const canvas = platform()
  const first = await tokens.assertion(canvas, 'c1')
  const second = await tokens.assertion(canvas, 'c1')
  const { payload, protectedHeader } = await jwtVerify(first, jwks, { issuer: 'c1', subject: 'c1', audience: canvas.tokenUrl as string })
  t.equal(protectedHeader.kid, 'k1')
  t.ok((payload.exp as number) - (payload.iat as number) <= 300)
  const { payload: next } = await jwtVerify(second, jwks)
  t.not(payload.jti, next.jti, 'a fresh jti each time')
  const brightspace = platform({ tokenAudience: 'https://api.brightspace.com/auth/token' })
  const { payload: d2l } = await jwtVerify(await tokens.assertion(brightspace, 'c1'), jwks)
  t.equal(d2l.aud, 'https://api.brightspace.com/auth/token')
})

t.test('the platform\'s own words, and the retry schedule', async (t) => {
  t.equal(platformError(400, { error: 'invalid_client', error_description: 'unknown key' }, ''), 'invalid_client (unknown key)')
  t.equal(platformError(404, undefined, '<html> Not   here </html>'), 'HTTP 404: <html> Not here </html>')
  t.equal(platformError(400, { message: 'bad score' }, ''), 'HTTP 400: bad score')
  t.equal(scoresUrl('https://moodle.example.org/mod/lti/services.php/2/lineitems/7/lineitem?type_id=1'), 'https://moodle.example.org/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=1', 'the query stays (Moodle)')
  t.equal(scoresUrl('https://canvas.example/api/lti/courses/1/line_items/3/'), 'https://canvas.example/api/lti/courses/1/line_items/3/scores')
  t.same([1, 2, 3, 4, 10].map((n) => retryDelay(n, 1000, 5000)), [1000, 2000, 4000, 5000, 5000])
})
