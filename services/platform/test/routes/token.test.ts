import { SERVICE_SCOPE } from '@ltilaunch/claims'
import { logCapture } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { assertion, PLATFORM, setup, tokenRequest, type ToolKeys } from '../lti-services.js'

t.test('the token endpoint refuses: a wrong key, a reused jti, an expired assertion, a wrong audience, a grant or scope it does not offer', async (t) => {
  const { app, keys } = await setup(t)
  const grader = keys.grader as ToolKeys
  const refused = async (res: Awaited<ReturnType<typeof tokenRequest>>, status: number, error: string, code: string) => {
    t.equal(res.statusCode, status, res.body)
    t.match(res.json(), { error, code, error_description: String })
    t.notOk(res.json().access_token)
  }
  // Signed with another tool's key under grader's kid: the signature does not verify.
  await refused(await tokenRequest(app, await assertion({ kid: grader.kid, privateKey: (keys.other as ToolKeys).privateKey }, 'grader')), 401, 'invalid_client', 'PLATFORM_TOKEN_ASSERTION_INVALID')
  const once = await assertion(grader, 'grader')
  t.equal((await tokenRequest(app, once)).statusCode, 200)
  await refused(await tokenRequest(app, once), 401, 'invalid_client', 'PLATFORM_TOKEN_ASSERTION_REPLAYED')
  const now = Math.floor(Date.now() / 1000)
  await refused(await tokenRequest(app, await assertion(grader, 'grader', { iat: now - 900, exp: now - 600 })), 401, 'invalid_client', 'PLATFORM_TOKEN_ASSERTION_EXPIRED')
  await refused(await tokenRequest(app, await assertion(grader, 'grader', { aud: 'https://another-lms.example/token' })), 401, 'invalid_client', 'PLATFORM_TOKEN_ASSERTION_AUDIENCE')
  await refused(await tokenRequest(app, await assertion(grader, 'grader', { sub: 'other' })), 401, 'invalid_client', 'PLATFORM_TOKEN_ASSERTION_INVALID')
  await refused(await tokenRequest(app, await assertion(grader, 'nobody')), 401, 'invalid_client', 'PLATFORM_TOKEN_CLIENT_UNKNOWN')
  await refused(await tokenRequest(app, await assertion(grader, 'grader'), undefined, 'authorization_code'), 400, 'unsupported_grant_type', 'PLATFORM_TOKEN_GRANT_UNSUPPORTED')
  await refused(await tokenRequest(app, 'not-a-jwt'), 401, 'invalid_client', 'PLATFORM_TOKEN_ASSERTION_INVALID')
  // quiet may read rosters and results, never post scores.
  await refused(await tokenRequest(app, await assertion(keys.quiet as ToolKeys, 'quiet'), SERVICE_SCOPE.score), 400, 'invalid_scope', 'PLATFORM_TOKEN_SCOPE_INVALID')
  const narrowed = await tokenRequest(app, await assertion(keys.quiet as ToolKeys, 'quiet'), `${SERVICE_SCOPE.score} ${SERVICE_SCOPE.resultReadOnly}`)
  t.equal(narrowed.json().scope, SERVICE_SCOPE.resultReadOnly, 'only the allowed part of what was asked is granted')
  // The platform's issuer is accepted as the audience too (tools built for other LMSs send it).
  t.equal((await tokenRequest(app, await assertion(grader, 'grader', { aud: PLATFORM }))).statusCode, 200)
  // A tool without jwks_uri cannot authenticate at all.
  await refused(await tokenRequest(app, await assertion(grader, 'test-tool')), 401, 'invalid_client', 'PLATFORM_TOKEN_CLIENT_UNKNOWN')
})

t.test('a tool whose jwks_uri cannot be fetched gets 503 temporarily_unavailable, with Retry-After', async (t) => {
  const { app, keys } = await setup(t, {}, undefined, { grader: 'http://127.0.0.1:9/jwks' })
  const res = await tokenRequest(app, await assertion(keys.grader as ToolKeys, 'grader'))
  t.equal(res.statusCode, 503, res.body)
  t.match(res.json(), { error: 'temporarily_unavailable', code: 'PLATFORM_TOKEN_JWKS_UNAVAILABLE' })
  t.ok(res.headers['retry-after'])
})

t.test('each token issued or refused leaves an audit event (platform.grades.token), without the assertion or the token', async (t) => {
  const log = logCapture()
  const { app, keys } = await setup(t, { LOG_LEVEL: 'warn' }, undefined, {}, log.stream)
  const jwt = await assertion(keys.grader as ToolKeys, 'grader')
  const issued = await tokenRequest(app, jwt)
  t.equal(issued.statusCode, 200)
  t.equal((await tokenRequest(app, jwt)).statusCode, 401)
  const events = log.audit().filter((event) => event.type === 'platform.grades.token')
  t.match(events, [
    { outcome: 'success', actor: { client_id: 'grader' } },
    { outcome: 'failure', error_code: 'PLATFORM_TOKEN_ASSERTION_REPLAYED' }
  ])
  t.equal(events.length, 2)
  const text = JSON.stringify(events)
  t.notOk(text.includes(jwt) || text.includes(issued.json().access_token as string), 'neither the assertion nor the token is in an event')
})
