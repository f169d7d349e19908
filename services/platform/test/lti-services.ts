/** Test helpers for the LTI services: tools with real keys at a real jwks_uri, signed client assertions, launches, service calls. */
import { randomUUID } from 'node:crypto'
import { SERVICE_SCOPE } from '@ltilaunch/claims'
import type { Store } from '@ltilaunch/service-kit'
import Fastify from 'fastify'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'
import type { Test } from 'tap'
import { authorizeGet, authParams, Browser, build, formOf, launchCsrf, signIn, TEST_TOOLS, TOOL, type App } from './helper.js'

export const PLATFORM = 'http://platform.test'
export const TOKEN_URL = `${PLATFORM}/lti/token`
export const SCORE_TYPE = 'application/vnd.ims.lis.v1.score+json'
export const LINEITEM_TYPE = 'application/vnd.ims.lis.v2.lineitem+json'

export interface ToolKeys { kid: string, privateKey: CryptoKey }

/** Two tools' key sets over real HTTP (jwks_uri), as a tool publishes them. */
export async function keyServer (t: Test): Promise<{ url: (name: string) => string, keys: Record<string, ToolKeys> }> {
  const keys: Record<string, ToolKeys> = {}
  const published: Record<string, unknown> = {}
  for (const name of ['grader', 'other', 'quiet']) {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
    keys[name] = { kid: `${name}-key`, privateKey }
    published[name] = { keys: [{ ...await exportJWK(publicKey), kid: `${name}-key`, alg: 'RS256', use: 'sig' }] }
  }
  const server = Fastify()
  server.get('/:name/jwks', async (request) => published[(request.params as { name: string }).name] ?? { keys: [] })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  const port = (server.addresses()[0] as { port: number }).port
  return { url: (name) => `http://127.0.0.1:${port}/${name}/jwks`, keys }
}

export const toolEntry = (name: string, jwksUri: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  client_id: name,
  name: `${name} tool`,
  deployment_ids: [`${name}-dep`],
  initiate_login_uri: `https://${name}.example/login`,
  target_link_uri: `https://${name}.example/launch`,
  redirect_uris: [`https://${name}.example/callback`],
  jwks_uri: jwksUri,
  ...extra
})

export async function setup (t: Test, env: Record<string, string> = {}, store?: Store, jwksUris: Record<string, string> = {}, logStream?: NonNullable<Parameters<typeof build>[1]>['logStream']) {
  const server = await keyServer(t)
  const tools = [...TEST_TOOLS.tools,
    toolEntry('grader', jwksUris.grader ?? server.url('grader')),
    toolEntry('other', server.url('other')),
    toolEntry('quiet', server.url('quiet'), { send_name: false, send_email: false, scopes: [SERVICE_SCOPE.contextMembershipReadOnly, SERVICE_SCOPE.resultReadOnly] })]
  const app = await build(t, { env: { PLATFORM_TOOLS: JSON.stringify({ tools }), ...env }, ...(store === undefined ? {} : { store }), ...(logStream === undefined ? {} : { logStream }) })
  return { app, keys: server.keys }
}

/** A client assertion (RFC 7523) signed as a tool; each field can be spoiled. */
export async function assertion (key: ToolKeys, clientId: string, fields: { aud?: string, jti?: string, exp?: number, iat?: number, sub?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({ jti: fields.jti ?? randomUUID() })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(clientId).setSubject(fields.sub ?? clientId).setAudience(fields.aud ?? TOKEN_URL)
    .setIssuedAt(fields.iat ?? now).setExpirationTime(fields.exp ?? now + 300)
    .sign(key.privateKey)
}

export async function tokenRequest (app: App, jwt: string, scope?: string, grantType = 'client_credentials') {
  const form: Record<string, string> = {
    grant_type: grantType,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: jwt
  }
  if (scope !== undefined) form.scope = scope
  return await app.inject({ method: 'POST', url: '/lti/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() })
}

export async function accessToken (app: App, key: ToolKeys, clientId: string, scope?: string): Promise<string> {
  const res = await tokenRequest(app, await assertion(key, clientId), scope)
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`)
  return res.json().access_token as string
}

/** A demo user launches a tool in a course; returns the id_token the tool receives. */
export async function launch (app: App, username: string, clientId: string, course = 'ds101'): Promise<JWTPayload> {
  const browser = new Browser(app)
  await signIn(browser, username)
  const csrf = await launchCsrf(browser)
  const res = await browser.post('/launch', { csrf, client_id: clientId, course })
  if (res.statusCode !== 303) throw new Error(`launch: ${res.statusCode} ${res.body.slice(0, 200)}`)
  const login = Object.fromEntries(new URL(res.headers.location as string).searchParams)
  const page = await authorizeGet(browser, authParams(login, { redirect_uri: clientId === 'test-tool' ? TOOL.redirect : `https://${clientId}.example/callback` }))
  return decodeJwt(formOf(page.body).fields.id_token as string)
}

export const call = async (app: App, token: string | undefined, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, type = 'application/json') =>
  await app.inject({
    method,
    url: url.replace(PLATFORM, ''),
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': type }) },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) })
  })

export const score = (userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  userId, scoreGiven: 7, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: new Date().toISOString(), ...extra
})
