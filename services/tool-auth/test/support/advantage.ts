import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose'
import type { Test } from 'tap'

async function listen (t: Test, handler: (req: IncomingMessage, body: string, res: ServerResponse) => void | Promise<void>): Promise<{ server: Server, url: string }> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
    req.on('end', () => {
      Promise.resolve(handler(req, body, res)).catch((err: unknown) => {
        res.writeHead(500).end(String(err))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const address = server.address() as { port: number }
  return { server, url: `http://127.0.0.1:${address.port}` }
}

function json (res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type }).end(JSON.stringify(body))
}

export interface PostedScore {
  lineitem: string
  body: Record<string, unknown>
  token: string
}

/**
 * A platform's LTI Advantage services on 127.0.0.1: an OAuth2 token endpoint
 * that verifies the tool's signed client assertion (jose, against the tool's
 * public keys), and AGS line items and scores. Tests switch its answers.
 */
export interface AdvantageStub {
  url: string
  tokenUrl: string
  /** The aud the token endpoint expects (the token URL unless a test sets another). */
  audience: string
  clientId: string
  tokenMode: 'ok' | 'refuse' | 'down'
  /** 'ok', 'down' (503), 'refuse' (400 with a message), or 'expire' (every token refused once: 401). */
  scoreMode: 'ok' | 'down' | 'refuse'
  tokensIssued: number
  assertions: Array<Record<string, unknown>>
  scopesAsked: string[]
  /** Tokens the stub honours; clear it to make every token "expired". */
  validTokens: Set<string>
  scores: PostedScore[]
  lineItems: Array<{ id: string, label: string, resourceId?: string, tag?: string, scoreMaximum: number }>
  lineItemsCreated: number
  /** A launch's AGS claim pointing at this stub. */
  agsClaim: (scope?: string[]) => Record<string, unknown>
  /** tool-auth settings that add this token URL to a platform. */
}

export const ALL_AGS_SCOPES = [
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/score'
]

export async function startAdvantageStub (t: Test, options: { clientId: string, toolJwks: () => { keys: JWK[] } }): Promise<AdvantageStub> {
  const stub = {} as AdvantageStub
  const jtis = new Set<string>()
  Object.assign(stub, {
    clientId: options.clientId,
    tokenMode: 'ok',
    scoreMode: 'ok',
    tokensIssued: 0,
    assertions: [],
    scopesAsked: [],
    validTokens: new Set<string>(),
    scores: [],
    lineItems: [],
    lineItemsCreated: 0
  })
  const { url } = await listen(t, async (req, body, res) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname
    if (req.method === 'POST' && path === '/token') {
      if (stub.tokenMode === 'down') return json(res, 503, { error: 'temporarily_unavailable' })
      const form = new URLSearchParams(body)
      try {
        if (form.get('grant_type') !== 'client_credentials') throw new Error('unsupported grant_type')
        if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') throw new Error('wrong client_assertion_type')
        const { payload } = await jwtVerify(form.get('client_assertion') ?? '', createLocalJWKSet(options.toolJwks()), {
          issuer: stub.clientId, subject: stub.clientId, audience: stub.audience, maxTokenAge: 600
        })
        if (typeof payload.jti !== 'string' || jtis.has(payload.jti)) throw new Error('jti missing or used')
        jtis.add(payload.jti)
        stub.assertions.push(payload as Record<string, unknown>)
      } catch (err) {
        return json(res, 401, { error: 'invalid_client', error_description: (err as Error).message })
      }
      if (stub.tokenMode === 'refuse') return json(res, 400, { error: 'invalid_scope', error_description: 'the tool was not granted these scopes' })
      stub.scopesAsked.push(form.get('scope') ?? '')
      const token = `tok-${++stub.tokensIssued}`
      stub.validTokens.add(token)
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: form.get('scope') })
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
    if (!stub.validTokens.has(token)) return json(res, 401, { error: 'invalid_token' })
    if (req.method === 'GET' && path === '/lineitems') {
      const resourceId = new URL(req.url ?? '/', 'http://stub').searchParams.get('resource_id')
      return json(res, 200, stub.lineItems.filter((item) => resourceId === null || item.resourceId === resourceId), 'application/vnd.ims.lis.v2.lineitemcontainer+json')
    }
    if (req.method === 'POST' && path === '/lineitems') {
      const item = JSON.parse(body) as { label: string, resourceId?: string, tag?: string, scoreMaximum: number }
      const created = { ...item, id: `${stub.url}/lineitems/${stub.lineItems.length + 1}/lineitem` }
      stub.lineItems.push(created)
      stub.lineItemsCreated++
      return json(res, 201, created, 'application/vnd.ims.lis.v2.lineitem+json')
    }
    const scores = /^\/lineitems\/([^/]+)\/lineitem\/scores$/.exec(path)
    if (req.method === 'POST' && scores) {
      if (req.headers['content-type'] !== 'application/vnd.ims.lis.v1.score+json') return json(res, 415, { error: 'unsupported media type' })
      if (stub.scoreMode === 'down') return json(res, 503, { message: 'gradebook is being upgraded' })
      if (stub.scoreMode === 'refuse') return json(res, 400, { message: 'userId is not enrolled in this course' })
      stub.scores.push({ lineitem: `${stub.url}/lineitems/${scores[1]}/lineitem`, body: JSON.parse(body) as Record<string, unknown>, token })
      return json(res, 204, {})
    }
    return json(res, 404, { error: 'not found' })
  })
  stub.url = url
  stub.tokenUrl = `${url}/token`
  stub.audience = stub.tokenUrl
  stub.agsClaim = (scope = ALL_AGS_SCOPES) => ({ scope, lineitems: `${url}/lineitems`, lineitem: `${url}/lineitems/1/lineitem` })
  return stub
}

/** A hub's GET /hub/api/user on real HTTP: tokens map to a user model with JupyterHub's scopes. */
export interface FakeHubApi {
  apiUrl: string
  calls: number
  /** Adds a server's token (JUPYTERHUB_API_TOKEN) of a user's named server ('' for the default one). */
  serverToken: (token: string, username: string, serverName: string) => void
  /** Adds a user's own API token (scope inherit: no single server). */
  userToken: (token: string, username: string) => void
}

export async function startFakeHubApi (t: Test): Promise<FakeHubApi> {
  const tokens = new Map<string, Record<string, unknown>>()
  const hub = { calls: 0 } as FakeHubApi
  const { url } = await listen(t, (req, _body, res) => {
    hub.calls++
    const token = /^token (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const model = token === undefined ? undefined : tokens.get(token)
    if (req.url !== '/hub/api/user' || model === undefined) return json(res, 403, { status: 403, message: 'Forbidden' })
    json(res, 200, model)
  })
  hub.apiUrl = `${url}/hub/api`
  hub.serverToken = (token, username, serverName) => {
    tokens.set(token, {
      kind: 'user',
      name: username,
      admin: false,
      groups: [],
      scopes: [`access:servers!server=${username}/${serverName}`, `read:users:activity!user=${username}`, `users:activity!user=${username}`],
      session_id: null,
      token_id: 'a1'
    })
  }
  hub.userToken = (token, username) => {
    tokens.set(token, { kind: 'user', name: username, scopes: ['access:servers!user=' + username, 'read:users!user=' + username], session_id: null })
  }
  return hub
}
