/**
 * The ltijs tool, run as a process of its own by startLtijsTool (ltijs's
 * Provider is a singleton, so one process is one tool):
 *
 *   node --import tsx peers/ltijs-tool-process.ts   with the settings in LTIJS_CONFIG (JSON)
 *
 * It is set up as ltijs's documentation deploys it (ltijs-sequelize on
 * PostgreSQL), registers the platforms it is given, and records what its
 * launch handler sees (res.locals.token with its platformContext) and what
 * it refuses, in a JSON-lines file and on GET /e2e/launches and
 * /e2e/refusals (routes ltijs lets through without an ltik).
 */
import { appendFileSync } from 'node:fs'
import { createRequire } from 'node:module'

export interface LtijsPlatform {
  url: string
  name: string
  clientId: string
  authenticationEndpoint: string
  accesstokenEndpoint: string
  authConfig: { method: 'JWK_SET' | 'JWK_KEY' | 'RSA_KEY', key: string }
}

export interface LtijsProcessConfig {
  port: number
  encryptionKey: string
  database: { name: string, host: string, port: number, user: string, password: string }
  platforms: LtijsPlatform[]
  appRoute: string
  loginRoute: string
  keysetRoute: string
  tokenMaxAge: number | false
  devMode: boolean
  cookies: { secure?: boolean, sameSite?: string, domain?: string }
  recordFile: string
  /** ltijs's Dynamic Registration service (its /register route), with platforms activated on registration. */
  dynReg?: { url: string, name: string }
  /** The content item ltijs answers a deep linking request with (ltijs's own DeepLinking service signs it). */
  deepLinkingItem?: Record<string, unknown>
}

/** One launch as ltijs's onConnect saw it. */
export interface LtijsLaunchRecord {
  /** A resource link launch (onConnect), or a deep linking request (onDeepLinking). */
  kind: 'launch' | 'deep-linking'
  at: string
  path: string
  query: Record<string, unknown>
  /** res.locals.token: iss, user (sub), userInfo, platformInfo, clientId, deploymentId, platformContext. */
  token: Record<string, unknown>
  /** res.locals.context: roles, context, resource, custom, messageType, version, targetLinkUri, ... */
  context: Record<string, unknown>
}

/** A request ltijs refused (invalid token, session timeout, unknown platform). */
export interface LtijsRefusalRecord {
  kind: 'invalid-token' | 'session-timeout' | 'unregistered-platform'
  at: string
  path: string
  error: unknown
}

interface Req { path: string, query: Record<string, unknown>, body?: unknown }
interface Res {
  locals: Record<string, unknown>
  status: (code: number) => Res
  send: (body: unknown) => unknown
  json: (body: unknown) => unknown
  setHeader: (name: string, value: string) => void
}
type Handler = (req: Req, res: Res, next?: () => void) => unknown

interface LtiProvider {
  setup: (key: string, db: { plugin: object }, options: object) => LtiProvider
  whitelist: (...routes: Array<string | { route: string, method: string }>) => void
  onConnect: (handler: (token: Record<string, unknown>, req: Req, res: Res) => unknown) => void
  onDeepLinking: (handler: (token: Record<string, unknown>, req: Req, res: Res) => unknown) => void
  DeepLinking: { createDeepLinkingForm: (token: Record<string, unknown>, items: object[], options?: object) => Promise<string> }
  onInvalidToken: (handler: Handler) => void
  onSessionTimeout: (handler: Handler) => void
  onUnregisteredPlatform: (handler: Handler) => void
  deploy: (options: object) => Promise<unknown>
  registerPlatform: (platform: LtijsPlatform) => Promise<{ platformId: () => Promise<string> } | false>
  app: {
    get: (route: string, handler: Handler) => void
    listen: (port: number, host: string, done: () => void) => { close: (done: () => void) => void }
  }
  close: (options?: object) => Promise<unknown>
}

function html (text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const config = JSON.parse(process.env.LTIJS_CONFIG ?? 'null') as LtijsProcessConfig | null
if (config === null) throw new Error('ltijs-tool-process: LTIJS_CONFIG is required')

const require = createRequire(import.meta.url)
// ltijs is CommonJS with a singleton Provider; ltijs-sequelize its PostgreSQL plugin.
const { Provider: lti } = require('ltijs') as { Provider: LtiProvider }
const Database = require('ltijs-sequelize') as new (db: string, user: string, pass: string, options: object) => object

const launches: LtijsLaunchRecord[] = []
const refusals: LtijsRefusalRecord[] = []
const record = (entry: LtijsLaunchRecord | LtijsRefusalRecord): void => {
  appendFileSync(config.recordFile, `${JSON.stringify(entry)}\n`)
}

const db = new Database(config.database.name, config.database.user, config.database.password, {
  host: config.database.host,
  port: config.database.port,
  dialect: 'postgres',
  logging: false
})

lti.setup(config.encryptionKey, { plugin: db }, {
  appRoute: config.appRoute,
  loginRoute: config.loginRoute,
  keysetRoute: config.keysetRoute,
  cookies: config.cookies,
  devMode: config.devMode,
  tokenMaxAge: config.tokenMaxAge,
  ...(config.dynReg === undefined ? {} : { dynReg: { ...config.dynReg, autoActivate: true } })
})

lti.whitelist('/e2e/launches', '/e2e/refusals', '/e2e/health')
lti.app.get('/e2e/launches', (_req, res) => res.json(launches))
lti.app.get('/e2e/refusals', (_req, res) => res.json(refusals))
lti.app.get('/e2e/health', (_req, res) => res.json({ ok: true }))

/** Records what ltijs handed a handler (the ltik left out), and returns the launch's context. */
type ConnectArgs = Parameters<Parameters<typeof lti.onConnect>[0]>

function remember (kind: LtijsLaunchRecord['kind'], token: ConnectArgs[0], req: ConnectArgs[1], res: ConnectArgs[2]): Record<string, unknown> {
  const context = (res.locals.context ?? token.platformContext ?? {}) as Record<string, unknown>
  const entry: LtijsLaunchRecord = {
    kind,
    at: new Date().toISOString(),
    path: req.path,
    query: Object.fromEntries(Object.entries(req.query).filter(([name]) => name !== 'ltik')),
    token: JSON.parse(JSON.stringify(token)) as Record<string, unknown>,
    context: JSON.parse(JSON.stringify(context)) as Record<string, unknown>
  }
  launches.push(entry)
  record(entry)
  return context
}

lti.onConnect((token, req, res) => {
  const context = remember('launch', token, req, res)
  const info = (token.userInfo ?? {}) as Record<string, unknown>
  const course = (context.context ?? {}) as Record<string, unknown>
  res.setHeader('content-type', 'text/html; charset=utf-8')
  res.send(`<!doctype html><html><head><title>ltijs tool: launched</title></head><body>
<h1 id="ltijs-launched">ltijs accepted the launch</h1>
<table>
<tr><th>User</th><td id="user">${html(token.user)}</td></tr>
<tr><th>Name</th><td>${html(info.name ?? '')} ${html(info.email ?? '')}</td></tr>
<tr><th>Roles</th><td id="roles">${html(((context.roles ?? []) as string[]).join(' '))}</td></tr>
<tr><th>Course</th><td id="context">${html(course.id ?? '')} ${html(course.title ?? course.label ?? '')}</td></tr>
<tr><th>Custom</th><td id="custom">${html(JSON.stringify(context.custom ?? {}))}</td></tr>
</table></body></html>`)
})

// A deep linking request: record it, and answer at once with the configured item, as ltijs's docs show.
lti.onDeepLinking(async (token, req, res) => {
  remember('deep-linking', token, req, res)
  const item = config.deepLinkingItem ?? { type: 'ltiResourceLink', title: 'An ltijs resource', url: `http://127.0.0.1:${config.port}${config.appRoute}` }
  const form = await lti.DeepLinking.createDeepLinkingForm(token, [item], { message: 'Added by the ltijs tool.' })
  res.setHeader('content-type', 'text/html; charset=utf-8')
  return res.send(form)
})

const refuse = (kind: LtijsRefusalRecord['kind'], status: number): Handler => (req, res) => {
  const entry: LtijsRefusalRecord = { kind, at: new Date().toISOString(), path: req.path, error: res.locals.err ?? null }
  refusals.push(entry)
  record(entry)
  return res.status(status).send(res.locals.err ?? { status, error: kind })
}
lti.onInvalidToken(refuse('invalid-token', 401))
lti.onSessionTimeout(refuse('session-timeout', 401))
lti.onUnregisteredPlatform(refuse('unregistered-platform', 400))

await lti.deploy({ serverless: true, silent: true })
for (const platform of config.platforms) {
  const registered = await lti.registerPlatform(platform)
  if (!registered) throw new Error(`ltijs did not register the platform ${platform.url} ${platform.clientId}`)
  process.stdout.write(`registered platform ${platform.url} client ${platform.clientId} as ${await registered.platformId()}\n`)
}
const server = lti.app.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ltijs tool listening on http://127.0.0.1:${config.port}\n`)
})

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  server.close(() => {})
  lti.close({ silent: true }).finally(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
