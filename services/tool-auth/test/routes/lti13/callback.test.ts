import { LTI_CLAIM } from '@ltilaunch/claims'
import { SignJWT, UnsecuredJWT, base64url } from 'jose'
import t from 'tap'
import { build } from '../../helper.js'
import { freshLaunch, launch, login, postCallback } from '../../support/launch.js'
import { startPlatform } from '../../support/platform.js'

/*
 * The callback, case by case. Ported from jupyterhub/ltiauthenticator
 * tests/lti13 (test_lti13_validator.py, test_lti13_handlers.py,
 * test_lti13_authenticator.py); each ported test names its origin:
 *  - test_validate_verify_and_decode_jwt                       → "a valid launch ..."
 *  - test_validate_verify_and_decode_jwt_rejects_unsigned_jwt  → "alg none ..."
 *  - test_verify_and_decode_jwt_fails_on_incorrect_iss         → "wrong issuer"
 *  - test_verify_and_decode_jwt_fails_on_passed_exp            → "expired"
 *  - test_verify_and_decode_jwt_fails_on_iat_in_the_future     → "not yet valid (iat)"
 *  - test_verify_and_decode_jwt_fails_on_incorrect_aud         → "wrong audience"
 *  - test_validate_minimal_launch_request                      → "a minimal launch"
 *  - test_validate_launch_request_empty_roles                  → "empty roles"
 *  - test_validate_launch_request_invalid_message_type         → "message type"
 *  - test_validate_launch_request_invalid_version              → "version"
 *  - test_validate_launch_request_empty_deployment_id          → "deployment id" (refused here: the spec requires one)
 *  - test_validate_launch_request_empty_target_link_uri        → "target link uri" (refused here: checkLaunchClaims requires it)
 *  - test_validate_launch_request_empty_resource_link_id       → "empty resource link id"
 *  - test_alidate_launch_request_fails_on_too_old_iat          → "max age"
 *  - test_validate_launch_request_with_priv                    → "privacy mode"
 *  - test_validate_azp_claim_passes_for_single_aud / _multiple_aud,
 *    _requires_azp_for_multiple_aud, _raises_invalid_audience_error_if_not_matching_client_id → "azp ..."
 *  - test_lti13_callback_handler_post_raises_401_on_invalid_audience → the 401 status of audience errors
 *  - test_lti13_callback_handler_(decode_and_validate_launch_request_)invocation → state + token + claims all checked
 *  - test_authenticator_returned_username_with_sub / _with_sub_and_email / _with_sub_email_name /
 *    _from_custom_claim / _raises_login_error_if_username_key_not_found → "username ..."
 *  - test_lti13_callback_handler_post_raises_403_on_non_user → "username ..." (no user: 400 TOOL_AUTH_USERNAME_MISSING, no session)
 *  - the nonce/state handler cases (state missing, mismatched, reused; nonce mismatch and replay)
 * Elsewhere: uri_scheme (test_authenticator_uri_scheme_*) and the config handler
 * (test_lti13_config_handler.py) in test/config.test.ts; the login handler in
 * login.test.ts; the JWKS handler (test_lti13_jwks_handler.py) in test/config.test.ts.
 * test_validate_verify_and_decode_jwt_accept_unsigned_jwt_with_no_endpoint is deliberately NOT ported:
 * tool-auth never skips signature verification.
 */

const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'

t.test('a valid launch is accepted: session cookie, redirect, userinfo (test_validate_verify_and_decode_jwt)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const { res, session } = await launch(app, platform)
  t.equal(res.statusCode, 303, res.body)
  t.equal(res.headers.location, 'https://tool.test/lti13/launch', 'no broker: back to the target')
  t.ok(session, 'a session cookie')
  const cookie = res.cookies.find((c) => c.name === 'ltilaunch_session')
  t.equal(cookie?.httpOnly, true)
  const cleared = res.cookies.find((c) => c.name === 'lti13_state')
  t.equal(cleared?.value, '', 'the state cookie is cleared')
  const page = await app.inject({ url: '/lti13/launch', headers: { cookie: `ltilaunch_session=${session}` } })
  t.equal(page.statusCode, 200)
  t.match(page.body, 'ada@example.org')
})

t.test('a minimal launch with only the required claims is accepted (test_validate_minimal_launch_request)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const { res } = await launch(app, platform, {
    remove: ['email', 'name', LTI_CLAIM.context, LTI_CLAIM.custom],
    lti: { roles: [] }
  })
  t.equal(res.statusCode, 303, res.body)
})

t.test('empty roles are accepted (test_validate_launch_request_empty_roles)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const { res } = await launch(app, platform, { overrides: { [LTI_CLAIM.roles]: '' } })
  t.equal(res.statusCode, 303, res.body)
})

t.test('privacy mode: no name or email, the username is sub (test_validate_launch_request_with_priv, test_authenticator_returned_username_with_sub)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const { res, session } = await launch(app, platform, { remove: ['email', 'name', 'given_name', 'family_name', LTI_CLAIM.lis] })
  t.equal(res.statusCode, 303, res.body)
  const page = await app.inject({ url: '/lti13/launch', headers: { cookie: `ltilaunch_session=${session}` } })
  t.match(page.body, 'user-sub-1')
})

t.test('username rules (test_authenticator_returned_username_*)', async (t) => {
  const platform = await startPlatform(t)
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['email, lowercased', { email: 'Usertest@Example.com' }, 'usertest@example.com'],
    ['email when name is sent too', { email: 'usertest@example.com', name: 'Jovyan Jupyter', given_name: 'Jovyan', family_name: 'Jupyter' }, 'usertest@example.com']
  ]
  for (const [name, overrides, expected] of cases) {
    const app = await build(t, { env: platform.env, store: 'memory' })
    const { session } = await launch(app, platform, { overrides })
    const info = (await app.inject({ url: '/lti13/launch', headers: { cookie: `ltilaunch_session=${session}` } })).body
    t.match(info, expected, name)
  }
  const custom = await build(t, { env: { ...platform.env, username_key: 'custom_uname' }, store: 'memory' })
  const fromCustom = await launch(custom, platform, { lti: { custom: { uname: 'Jovyan.Jupyter' } } })
  t.match((await custom.inject({ url: '/lti13/launch', headers: { cookie: `ltilaunch_session=${fromCustom.session}` } })).body, 'jovyan.jupyter', 'custom_ prefix')

  const missing = await build(t, { env: { ...platform.env, username_key: 'does_not_exist' }, store: 'memory' })
  const none = await launch(missing, platform, { remove: ['sub'] })
  t.equal(none.res.statusCode, 400)
  t.equal(none.res.json().code, 'TOOL_AUTH_USERNAME_MISSING')
  t.match(none.res.json().message, 'does_not_exist')
  t.notOk(none.session, 'no session without a username')
})

t.test('state: missing, unknown, reused, mismatched; a missing cookie is refused unless ALLOW_UNBOUND_LAUNCH', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })

  const a = await freshLaunch(app, platform)
  const noState = await postCallback(app, { id_token: a.idToken, cookie: a.cookie })
  t.equal(noState.json().code, 'TOOL_AUTH_STATE_MISSING')

  const unknown = await postCallback(app, { id_token: a.idToken, state: 'x'.repeat(43) })
  t.equal(unknown.json().code, 'TOOL_AUTH_STATE_UNKNOWN')

  const b = await freshLaunch(app, platform)
  const mismatch = await postCallback(app, { id_token: b.idToken, state: b.state, cookie: a.state })
  t.equal(mismatch.statusCode, 400)
  t.equal(mismatch.json().code, 'TOOL_AUTH_STATE_MISMATCH')
  t.notOk(mismatch.cookies.some((c) => c.name === 'ltilaunch_session'))

  // No cookie and no platform storage: nothing ties the launch to this browser (login CSRF).
  const noCookie = await postCallback(app, { id_token: b.idToken, state: b.state })
  t.equal(noCookie.statusCode, 403, noCookie.body)
  t.equal(noCookie.json().code, 'TOOL_AUTH_LAUNCH_UNBOUND')
  t.notOk(noCookie.cookies.some((c) => c.name === 'ltilaunch_session'))

  // The refusal spent nothing: the browser that holds the cookie can still finish.
  t.equal((await postCallback(app, { id_token: b.idToken, state: b.state, cookie: b.cookie })).statusCode, 303)
  const reused = await postCallback(app, { id_token: b.idToken, state: b.state, cookie: b.cookie })
  t.equal(reused.statusCode, 400)
  t.equal(reused.json().code, 'TOOL_AUTH_STATE_UNKNOWN', 'a used state cannot be used again')

  const noToken = await postCallback(app, { state: a.state, cookie: a.cookie })
  t.equal(noToken.json().code, 'TOOL_AUTH_CALLBACK_PARAM_MISSING')

  // The documented opt-out accepts it.
  const lax = await build(t, { env: { ...platform.env, ALLOW_UNBOUND_LAUNCH: 'true' } })
  const c = await freshLaunch(lax, platform)
  const accepted = await postCallback(lax, { id_token: c.idToken, state: c.state })
  t.equal(accepted.statusCode, 303, accepted.body)
})

t.test('an expired state is refused', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, STATE_TTL: '30' } })
  const a = await freshLaunch(app, platform)
  await app.store.delete(`state:${a.state}`) // what the TTL does after 30 s
  const res = await postCallback(app, { id_token: a.idToken, state: a.state, cookie: a.cookie })
  t.equal(res.json().code, 'TOOL_AUTH_STATE_UNKNOWN')
})

t.test('nonce: a token made for another launch, and a replayed nonce, are refused', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const a = await login(app, platform)
  const other = await platform.sign(platform.claims('some-other-nonce'))
  const mismatch = await postCallback(app, { id_token: other, state: a.state, cookie: a.cookie })
  t.equal(mismatch.statusCode, 400)
  t.equal(mismatch.json().code, 'TOOL_AUTH_NONCE_MISMATCH')

  // A replay that got past the state (a second state forged with the same nonce).
  const b = await freshLaunch(app, platform)
  t.equal((await postCallback(app, { id_token: b.idToken, state: b.state, cookie: b.cookie })).statusCode, 303)
  await app.store.put('state:forged-state', { issuer: platform.issuer, clientId: platform.clientId, nonce: b.nonce, targetLinkUri: 'https://tool.test/lti13/launch', createdAt: Date.now() }, 60)
  const replay = await postCallback(app, { id_token: b.idToken, state: 'forged-state', cookie: 'forged-state' })
  t.equal(replay.statusCode, 400)
  t.equal(replay.json().code, 'TOOL_AUTH_NONCE_REPLAYED')
})

t.test('token checks: issuer, audience, times, max age', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, max_age: '200' } })
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['wrong issuer (test_verify_and_decode_jwt_fails_on_incorrect_iss)', { iss: `${platform.issuer}/something_wrong` }, 400, 'TOOL_AUTH_TOKEN_INVALID'],
    ['wrong audience (test_verify_and_decode_jwt_fails_on_incorrect_aud)', { aud: 'client1_something_wrong' }, 401, 'TOOL_AUTH_AUDIENCE'],
    ['expired (test_verify_and_decode_jwt_fails_on_passed_exp)', { iat: now - 10, exp: now - 310 }, 400, 'TOOL_AUTH_TOKEN_EXPIRED'],
    ['not yet valid: iat (test_verify_and_decode_jwt_fails_on_iat_in_the_future)', { iat: now + 200 }, 400, 'TOOL_AUTH_TOKEN_NOT_YET_VALID'],
    ['not yet valid: nbf', { nbf: now + 200 }, 400, 'TOOL_AUTH_TOKEN_NOT_YET_VALID'],
    // Past max_age by more than the default time_leeway (10 s).
    ['max age (test_alidate_launch_request_fails_on_too_old_iat)', { iat: now - 215 }, 400, 'TOOL_AUTH_TOKEN_EXPIRED'],
    ['no exp', { exp: undefined }, 400, 'TOOL_AUTH_TOKEN_INVALID'],
    ['azp with several audiences but no azp (test_validate_azp_claim_requires_azp_for_multiple_aud)', { aud: [platform.clientId, 'some_other_audience'] }, 401, 'TOOL_AUTH_AUDIENCE'],
    ['azp not our client (test_validate_azp_claim_raises_invalid_audience_error_if_not_matching_client_id)', { aud: [platform.clientId, 'some_other_audience'], azp: 'some_other_audience' }, 401, 'TOOL_AUTH_AUDIENCE']
  ]
  for (const [name, overrides, status, code] of cases) {
    const a = await login(app, platform)
    const claims = platform.claims(a.nonce, overrides)
    for (const [key, value] of Object.entries(claims)) if (value === undefined) Reflect.deleteProperty(claims, key)
    const res = await postCallback(app, { id_token: await platform.sign(claims), state: a.state, cookie: a.cookie })
    t.equal(res.statusCode, status, name)
    t.equal(res.json().code, code, name)
    t.notOk(res.cookies.some((c) => c.name === 'ltilaunch_session' && c.value !== ''), `${name}: no session`)
  }
  const expired = await login(app, platform)
  const res = await postCallback(app, { id_token: await platform.sign(platform.claims(expired.nonce, { iat: now - 60, exp: now - 30 })), state: expired.state, cookie: expired.cookie })
  t.match(res.json().hint, 'time_leeway', 'an expiry says how to allow for clock differences')
})

t.test('azp passes for one audience in a list and for several audiences with our azp (test_validate_azp_claim_passes_*)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  for (const overrides of [{ aud: [platform.clientId] }, { aud: [platform.clientId, 'some_other_audience'], azp: platform.clientId }]) {
    const { res } = await launch(app, platform, { overrides })
    t.equal(res.statusCode, 303, JSON.stringify(overrides))
  }
})

t.test('time_leeway lets a slightly expired or early token through', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, time_leeway: '60' }, store: 'memory' })
  const now = Math.floor(Date.now() / 1000)
  t.equal((await launch(app, platform, { overrides: { iat: now - 100, exp: now - 30 } })).res.statusCode, 303)
  t.equal((await launch(app, platform, { overrides: { iat: now + 30 } })).res.statusCode, 303)
})

t.test('the default time_leeway absorbs an LMS clock a few seconds ahead, and no more', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const now = Math.floor(Date.now() / 1000)
  t.equal((await launch(app, platform, { overrides: { iat: now + 3 } })).res.statusCode, 303, 'iat 3 s ahead is accepted with default settings')
  const ahead = await launch(app, platform, { overrides: { iat: now + 300, exp: now + 600 } })
  t.equal(ahead.res.statusCode, 400, 'iat 5 minutes ahead is refused')
  t.equal(ahead.res.json().code, 'TOOL_AUTH_TOKEN_NOT_YET_VALID')
})

t.test('a time claim that is not a number is reported as what it is, not as "not valid yet"', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const now = Math.floor(Date.now() / 1000)
  const shapes: Array<[string, unknown, RegExp]> = [
    ['a numeric string', String(now), /"iat" claim is a string \("\d+"\)/],
    ['a date string', new Date().toISOString(), /"iat" claim is a string/],
    ['null', null, /"iat" claim is null/],
    ['a boolean', true, /"iat" claim is a boolean \(true\)/],
    ['an object', { seconds: now }, /"iat" claim is an object/],
    ['an array', [now], /"iat" claim is an array/]
  ]
  for (const [name, iat, message] of shapes) {
    const { res } = await launch(app, platform, { overrides: { iat } })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 'TOOL_AUTH_TOKEN_INVALID', `${name}: not TOOL_AUTH_TOKEN_NOT_YET_VALID`)
    t.match(res.json().message, message, name)
    t.match(res.json().message, /NumericDate/, `${name}: says what it must be`)
  }
  for (const claim of ['exp', 'nbf']) {
    const { res } = await launch(app, platform, { overrides: { [claim]: 'tomorrow' } })
    t.equal(res.json().code, 'TOOL_AUTH_TOKEN_INVALID', claim)
    t.match(res.json().message, `"${claim}" claim is a string ("tomorrow")`, claim)
  }
})

t.test('LTI claim problems are listed (message type, version, deployment id, target link, resource link id)', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['message type (test_validate_launch_request_invalid_message_type)', { [LTI_CLAIM.messageType]: '???' }, 'LTI_MESSAGE_TYPE_UNKNOWN'],
    ['version (test_validate_launch_request_invalid_version)', { [LTI_CLAIM.version]: '1.0.0' }, 'LTI_VERSION_INVALID'],
    ['deployment id (test_validate_launch_request_empty_deployment_id)', { [LTI_CLAIM.deploymentId]: '' }, 'LTI_DEPLOYMENT_ID_MISSING'],
    ['target link uri (test_validate_launch_request_empty_target_link_uri)', { [LTI_CLAIM.targetLinkUri]: '' }, 'LTI_TARGET_LINK_URI_MISSING'],
    ['empty resource link id (test_validate_launch_request_empty_resource_link_id)', { [LTI_CLAIM.resourceLink]: { id: '' } }, 'LTI_RESOURCE_LINK_ID_EMPTY']
  ]
  for (const [name, overrides, problem] of cases) {
    const { res, session } = await launch(app, platform, { overrides })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 'TOOL_AUTH_CLAIMS_INVALID', name)
    t.match(res.json().message, problem, name)
    t.notOk(session, `${name}: no session`)
  }
  const both = await launch(app, platform, { overrides: { [LTI_CLAIM.version]: '1.1', [LTI_CLAIM.roles]: 7 } })
  t.match(both.res.json().message, /LTI_VERSION_INVALID[\s\S]*LTI_ROLES_MISSING/, 'every problem at once')
})

t.test('a deployment that the registration does not list is refused', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, deployment_ids: 'deployment-2' }, store: 'memory' })
  const { res } = await launch(app, platform)
  t.equal(res.json().code, 'TOOL_AUTH_DEPLOYMENT_UNKNOWN')
})

t.test('algorithm confusion: alg none and HS256 keyed with the public key are refused', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })

  const a = await login(app, platform)
  const unsigned = new UnsecuredJWT(platform.claims(a.nonce)).encode()
  const none = await postCallback(app, { id_token: unsigned, state: a.state, cookie: a.cookie })
  t.equal(none.statusCode, 400)
  t.equal(none.json().code, 'TOOL_AUTH_TOKEN_INVALID', 'alg none (test_validate_verify_and_decode_jwt_rejects_unsigned_jwt)')

  const b = await login(app, platform)
  const publicJwkAsSecret = new TextEncoder().encode(JSON.stringify(platform.key.publicJwk))
  const hs = await new SignJWT(platform.claims(b.nonce)).setProtectedHeader({ alg: 'HS256', kid: platform.key.kid }).sign(publicJwkAsSecret)
  const hmac = await postCallback(app, { id_token: hs, state: b.state, cookie: b.cookie })
  t.equal(hmac.statusCode, 400)
  t.equal(hmac.json().code, 'TOOL_AUTH_TOKEN_INVALID')

  const c = await login(app, platform)
  const good = await platform.sign(platform.claims(c.nonce))
  const [header, payload] = good.split('.')
  const tampered = `${header}.${base64url.encode(JSON.stringify({ ...platform.claims(c.nonce), email: 'admin@example.org' }))}.${good.split('.')[2]}`
  t.not(payload, tampered.split('.')[1])
  const forged = await postCallback(app, { id_token: tampered, state: c.state, cookie: c.cookie })
  t.equal(forged.json().code, 'TOOL_AUTH_TOKEN_INVALID', 'a changed payload fails the signature')

  const d = await login(app, platform)
  const garbage = await postCallback(app, { id_token: 'not-a-jwt', state: d.state, cookie: d.cookie })
  t.equal(garbage.json().code, 'TOOL_AUTH_TOKEN_INVALID')
})

t.test('HS* and none are refused at start', async (t) => {
  for (const alg of ['HS256', 'none']) {
    await t.rejects(build(t, { env: { ID_TOKEN_ALGORITHMS: `RS256,${alg}` }, store: 'memory' }), /ID_TOKEN_ALGORITHMS/)
  }
})

t.test('the platform can report an OIDC error instead of a token', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const a = await login(app, platform)
  const res = await postCallback(app, { state: a.state, cookie: a.cookie, extra: { error: 'login_required', error_description: 'the user is not signed in' }, accept: 'text/html' })
  t.equal(res.statusCode, 400)
  t.match(res.body, 'the user is not signed in')
  t.match(res.body, 'TOOL_AUTH_PLATFORM_ERROR')
})

t.test('GET on the callback is a 405 page that says to launch from the course', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject({ url: '/lti13/oauth_callback', headers: { accept: 'text/html' } })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'POST')
  t.match(res.body, 'Launch the tool from your course')
})

t.test('a POST of the id_token to the target link URI works like the callback', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const a = await freshLaunch(app, platform)
  const res = await postCallback(app, { id_token: a.idToken, state: a.state, cookie: a.cookie }, '/lti13/launch')
  t.equal(res.statusCode, 303)
})

t.test('a launch whose target has ?next= goes there after the launch', async (t) => {
  const platform = await startPlatform(t, { target: 'https://tool.test/lti13/launch?next=/hub/spawn' })
  const app = await build(t, { env: platform.env, store: 'memory' })
  const started = await login(app, platform, { target_link_uri: 'https://tool.test/lti13/launch?next=/hub/spawn' })
  const res = await postCallback(app, { id_token: await platform.sign(platform.claims(started.nonce)), state: started.state, cookie: started.cookie })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, 'https://tool.test/hub/spawn')
})

t.test('roles: a learner, an instructor (staff) and an administrator', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const cases: Array<[string[], string]> = [
    [[LEARNER], '(learner)'],
    [['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'], '(staff)'],
    [['http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'], '(staff)']
  ]
  for (const [roles, shown] of cases) {
    const { session } = await launch(app, platform, { lti: { roles } })
    t.match((await app.inject({ url: '/lti13/launch', headers: { cookie: `ltilaunch_session=${session}` } })).body, shown, roles[0] ?? '')
  }
})

t.test('with HUB_URL, the page after a launch links to the hub', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, HUB_URL: 'https://hub.test/hub/' }, store: 'memory' })
  const { session } = await launch(app, platform)
  t.match((await app.inject({ url: '/lti13/launch', headers: { cookie: `ltilaunch_session=${session}` } })).body, '<a href="https://hub.test/hub/">Open JupyterHub</a>')
})

t.test('without a session, /lti13/launch says to launch from the course', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject({ url: '/lti13/launch', headers: { accept: 'application/json' } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'TOOL_AUTH_NO_SESSION')
})
