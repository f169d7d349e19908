import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { build, TEST_ENV, type App } from '../../helper.js'
import { launch } from '../../support/launch.js'
import { startPlatform } from '../../support/platform.js'

/*
 * The OAuth2 server as JupyterHub's GenericOAuthenticator (oauthenticator
 * >= 16) uses it: code flow with PKCE S256, client authentication by Basic
 * or by form, `data=None` in the token form, Bearer userinfo, refresh.
 */

const SECRET = TEST_ENV.HUB_CLIENT_SECRET as string
const CALLBACK = TEST_ENV.HUB_REDIRECT_URI as string
const BASIC = `Basic ${Buffer.from(`jupyterhub:${SECRET}`).toString('base64')}`

async function signedIn (t: Parameters<typeof build>[0], env: Record<string, string> = {}) {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, ...env } })
  const { session } = await launch(app, platform)
  if (session === undefined) throw new Error('no session')
  return { app, session, platform }
}

function pkce () {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

async function authorize (app: App, session: string | undefined, params: Record<string, string> = {}) {
  const query = new URLSearchParams({ response_type: 'code', client_id: 'jupyterhub', redirect_uri: CALLBACK, state: 'hub-state-1', scope: 'openid', ...params })
  return await app.inject({ url: `/oauth2/authorize?${query.toString()}`, headers: session === undefined ? {} : { cookie: `ltilaunch_session=${session}` } })
}

async function codeFor (app: App, session: string, params: Record<string, string> = {}): Promise<string> {
  const res = await authorize(app, session, params)
  if (res.statusCode !== 302) throw new Error(`authorize: ${res.statusCode} ${res.body}`)
  return new URL(res.headers.location as string).searchParams.get('code') as string
}

async function token (app: App, form: Record<string, string>, headers: Record<string, string> = { authorization: BASIC }) {
  return await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    payload: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers }
  })
}

async function userinfo (app: App, accessToken: string | undefined) {
  return await app.inject({ url: '/oauth2/userinfo', headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` } })
}

t.test('code flow with PKCE S256, Basic auth and data=None; userinfo with the access token', async (t) => {
  const { app, session } = await signedIn(t)
  const { verifier, challenge } = pkce()
  const res = await authorize(app, session, { code_challenge: challenge, code_challenge_method: 'S256', unknown_param: 'ignored' })
  t.equal(res.statusCode, 302)
  const back = new URL(res.headers.location as string)
  t.equal(`${back.origin}${back.pathname}`, CALLBACK)
  t.equal(back.searchParams.get('state'), 'hub-state-1')
  const code = back.searchParams.get('code') as string
  t.ok(code.length >= 43)

  const reply = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier, data: 'None', something_new: 'x' })
  t.equal(reply.statusCode, 200, reply.body)
  t.equal(reply.headers['cache-control'], 'no-store')
  const body = reply.json()
  t.match(body, { token_type: 'Bearer', expires_in: 3600, scope: 'openid' })
  t.type(body.access_token, 'string')
  t.type(body.refresh_token, 'string')

  const info = await userinfo(app, body.access_token)
  t.equal(info.statusCode, 200)
  t.match(info.json(), { name: 'ada@example.org', groups: ['learner', 'course:course-42'], admin: false })
  const lower = await app.inject({ url: '/oauth2/userinfo', headers: { authorization: `bearer ${body.access_token}` } })
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive')
  const viaQuery = await app.inject({ url: `/oauth2/userinfo?access_token=${body.access_token}` })
  t.equal(viaQuery.statusCode, 401, 'a token in the URL is refused: URLs end up in logs')
})

t.test('client authentication in the form body works like Basic', async (t) => {
  const { app, session } = await signedIn(t)
  const code = await codeFor(app, session)
  const reply = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: 'jupyterhub', client_secret: SECRET }, {})
  t.equal(reply.statusCode, 200, reply.body)
})

t.test('a wrong client secret, an unknown client, or none at all is invalid_client (401)', async (t) => {
  const { app, session } = await signedIn(t)
  const code = await codeFor(app, session)
  const cases: Array<[Record<string, string>, Record<string, string>]> = [
    [{}, { authorization: `Basic ${Buffer.from('jupyterhub:wrong-secret-0123456789').toString('base64')}` }],
    [{}, { authorization: `Basic ${Buffer.from(`someone:${SECRET}`).toString('base64')}` }],
    [{ client_id: 'jupyterhub', client_secret: 'wrong' }, {}],
    [{}, {}],
    [{}, { authorization: 'Bearer abc' }]
  ]
  for (const [form, headers] of cases) {
    const reply = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, ...form }, headers)
    t.equal(reply.statusCode, 401, JSON.stringify({ form, headers }))
    t.equal(reply.json().error, 'invalid_client')
    t.type(reply.json().error_description, 'string')
    t.match(reply.headers['www-authenticate'], /^Basic/)
  }
  const still = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })
  t.equal(still.statusCode, 200, 'failed client authentication does not burn the code')
})

t.test('PKCE: a wrong or missing verifier is invalid_grant; plain is refused at authorize', async (t) => {
  const { app, session } = await signedIn(t)
  const { challenge } = pkce()
  const forms: Array<Record<string, string>> = [{ code_verifier: pkce().verifier }, {}]
  for (const form of forms) {
    const code = await codeFor(app, session, { code_challenge: challenge, code_challenge_method: 'S256' })
    const reply = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, ...form })
    t.equal(reply.statusCode, 400)
    t.equal(reply.json().error, 'invalid_grant')
    t.match(reply.json().error_description, 'code_verifier')
  }
  const plain = await authorize(app, session, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' })
  t.equal(plain.statusCode, 302)
  const back = new URL(plain.headers.location as string)
  t.equal(back.searchParams.get('error'), 'invalid_request')
  t.equal(back.searchParams.get('state'), 'hub-state-1')
  t.notOk(back.searchParams.get('code'))

  const downgrade = await codeFor(app, session)
  const reply = await token(app, { grant_type: 'authorization_code', code: downgrade, redirect_uri: CALLBACK, code_verifier: pkce().verifier })
  t.equal(reply.json().error, 'invalid_grant', 'a verifier for a code issued without a challenge is refused')
})

t.test('a code used twice is refused, and the tokens from its first use are revoked', async (t) => {
  const { app, session } = await signedIn(t)
  const code = await codeFor(app, session)
  const first = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })
  t.equal(first.statusCode, 200)
  const { access_token: access, refresh_token: refresh } = first.json()
  t.equal((await userinfo(app, access)).statusCode, 200)

  const second = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })
  t.equal(second.statusCode, 400)
  t.equal(second.json().error, 'invalid_grant')
  t.match(second.json().error_description, 'already used')

  const revoked = await userinfo(app, access)
  t.equal(revoked.statusCode, 401, 'the access token is revoked')
  t.equal(revoked.json().error, 'invalid_token')
  const refreshed = await token(app, { grant_type: 'refresh_token', refresh_token: refresh })
  t.equal(refreshed.json().error, 'invalid_grant', 'the refresh token is revoked')
})

t.test('refresh rotates the refresh token; the old one used again revokes the grant', async (t) => {
  const { app, session } = await signedIn(t)
  const code = await codeFor(app, session)
  const first = (await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })).json()
  const refreshed = await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token, data: 'None' })
  t.equal(refreshed.statusCode, 200, refreshed.body)
  const second = refreshed.json()
  t.not(second.refresh_token, first.refresh_token)
  t.not(second.access_token, first.access_token)
  t.equal((await userinfo(app, second.access_token)).statusCode, 200)
  t.equal((await userinfo(app, first.access_token)).statusCode, 200, 'the earlier access token stays valid for its lifetime')

  const replay = await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })
  t.equal(replay.json().error, 'invalid_grant')
  t.equal((await userinfo(app, second.access_token)).statusCode, 401, 'reusing a rotated refresh token revokes the grant')
})

t.test('a refresh brings the groups of the user\'s latest launch', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const { session } = await launch(app, platform)
  const code = await codeFor(app, session as string)
  const first = (await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })).json()
  await launch(app, platform, { lti: { roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'], context: { id: 'course-43', label: 'DS102' } } })
  const refreshed = (await token(app, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).json()
  t.same((await userinfo(app, refreshed.access_token)).json().groups, ['staff', 'course:course-43'])
})

t.test('tokens issued before they named their user (an upgrade) still work', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env })
  const { session } = await launch(app, platform)
  const code = await codeFor(app, session as string)
  const issued = (await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })).json()
  const hashed = (value: string): string => createHash('sha256').update(value).digest('base64url')
  // Rewrite both tokens the way the previous version stored them: the grant id alone.
  for (const [prefix, value] of [['at', issued.access_token], ['rt', issued.refresh_token]] as const) {
    const record = await app.store.get<{ grantId: string, name?: string }>(`${prefix}:${hashed(value)}`)
    t.equal(record?.name, 'ada@example.org', `${prefix} names its user`)
    await app.store.set(`${prefix}:${hashed(value)}`, { grantId: record?.grantId }, 600)
  }
  await launch(app, platform, { lti: { roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'], context: { id: 'course-44' } } })
  t.same((await userinfo(app, issued.access_token)).json().groups, ['staff', 'course:course-44'], 'userinfo finds the latest launch through the grant')
  const refreshed = await token(app, { grant_type: 'refresh_token', refresh_token: issued.refresh_token })
  t.equal(refreshed.statusCode, 200, refreshed.body)
  t.same((await userinfo(app, refreshed.json().access_token)).json().groups, ['staff', 'course:course-44'])
})

t.test('an expired code is refused', async (t) => {
  const { app, session } = await signedIn(t, { AUTH_CODE_TTL: '1' })
  const code = await codeFor(app, session)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const reply = await token(app, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK })
  t.equal(reply.statusCode, 400)
  t.equal(reply.json().error, 'invalid_grant')
  t.match(reply.json().error_description, 'expired')
})

t.test('token request errors follow RFC 6749 5.2', async (t) => {
  const { app, session } = await signedIn(t)
  const code = await codeFor(app, session)
  const cases: Array<[Record<string, string>, string]> = [
    [{ code, redirect_uri: CALLBACK }, 'invalid_request'],
    [{ grant_type: 'password', username: 'a', password: 'b' }, 'unsupported_grant_type'],
    [{ grant_type: 'authorization_code', redirect_uri: CALLBACK }, 'invalid_request'],
    [{ grant_type: 'authorization_code', code: 'made-up', redirect_uri: CALLBACK }, 'invalid_grant'],
    [{ grant_type: 'refresh_token' }, 'invalid_request']
  ]
  for (const [form, error] of cases) {
    const reply = await token(app, form)
    t.equal(reply.statusCode, 400, JSON.stringify(form))
    t.same(Object.keys(reply.json()).sort(), ['error', 'error_description'])
    t.equal(reply.json().error, error, JSON.stringify(form))
  }
  const wrongRedirect = await token(app, { grant_type: 'authorization_code', code, redirect_uri: 'https://hub.test/other' })
  t.equal(wrongRedirect.json().error, 'invalid_grant', 'redirect_uri must repeat the authorization request\'s')
})

t.test('authorize: unknown client and unregistered redirect_uri get a page, never a redirect', async (t) => {
  const { app, session } = await signedIn(t)
  const unknown = await authorize(app, session, { client_id: 'evil' })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().code, 'TOOL_AUTH_OAUTH_CLIENT_UNKNOWN')
  const elsewhere = await authorize(app, session, { redirect_uri: 'https://evil.example/cb' })
  t.equal(elsewhere.statusCode, 400)
  t.equal(elsewhere.json().code, 'TOOL_AUTH_REDIRECT_URI_MISMATCH')
  t.notOk(elsewhere.headers.location)
  const implicit = await authorize(app, session, { response_type: 'token' })
  t.equal(new URL(implicit.headers.location as string).searchParams.get('error'), 'unsupported_response_type')
  const noRedirect = await authorize(app, session, { redirect_uri: '' })
  t.equal(noRedirect.statusCode, 302, 'the only registered redirect URI is used when none is sent')
})

t.test('authorize without a session says to launch from the LMS', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject({ url: `/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'jupyterhub', redirect_uri: CALLBACK, state: 's' }).toString()}`, headers: { accept: 'text/html' } })
  t.equal(res.statusCode, 401)
  t.match(res.body, 'launching it from your course')
  t.match(res.body, 'TOOL_AUTH_NO_SESSION')
  const forged = await authorize(app, 'A'.repeat(43))
  t.equal(forged.statusCode, 401, 'an unknown session id is no session')
})

t.test('userinfo without a bearer token, or with a bad one, is 401', async (t) => {
  const app = await build(t, { store: 'memory' })
  const none = await userinfo(app, undefined)
  t.equal(none.statusCode, 401)
  t.match(none.headers['www-authenticate'], /^Bearer/)
  const bad = await userinfo(app, 'not-a-token')
  t.equal(bad.statusCode, 401)
  t.equal(bad.json().error, 'invalid_token')
})

t.test('the authorization server metadata names the endpoints', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject('/.well-known/oauth-authorization-server')
  t.match(res.json(), { token_endpoint: 'https://tool.test/oauth2/token', code_challenge_methods_supported: ['S256'] })
})

t.test('userinfo: hub admin only from ADMIN_ROLES, and the course role decides staff or learner', async (t) => {
  const INST = 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#'
  const SYS_ADMIN = 'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'
  const MOODLE_SITE_ADMIN = [`${INST}Administrator`, 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor', SYS_ADMIN]
  const platform = await startPlatform(t)
  const infoAfter = async (app: App, roles: string[]) => {
    const { session } = await launch(app, platform, { lti: { roles } })
    if (session === undefined) throw new Error('no session')
    const reply = await token(app, { grant_type: 'authorization_code', code: await codeFor(app, session), redirect_uri: CALLBACK })
    const info = (await userinfo(app, reply.json().access_token)).json()
    return { groups: info.groups, admin: info.admin }
  }

  const plain = await build(t, { env: platform.env, store: 'memory' })
  t.same(await infoAfter(plain, MOODLE_SITE_ADMIN), { groups: ['staff', 'course:course-42'], admin: false }, 'administrator roles make no hub admin by default')
  t.same(await infoAfter(plain, [`${INST}Instructor`, 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner']), { groups: ['learner', 'course:course-42'], admin: false },
    'a learner of this course who teaches elsewhere is a learner')

  const listed = await build(t, { env: { ...platform.env, ADMIN_ROLES: SYS_ADMIN }, store: 'memory' })
  t.same(await infoAfter(listed, MOODLE_SITE_ADMIN), { groups: ['staff', 'admin', 'course:course-42'], admin: true }, 'a listed role makes a hub admin')
  t.same(await infoAfter(listed, [`${INST}Administrator`, 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor']), { groups: ['staff', 'course:course-42'], admin: false }, 'an unlisted administrator role does not')
})
