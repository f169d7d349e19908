import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { Cluster, Redis } from 'ioredis'
import { MemoryStore } from './store/memory.js'
import { createRedisClient, RedisStore, waitForRedis, type RedisClient, type RedisSettings } from './store/redis.js'
import type { Store } from './store/store.js'
import { registeredRoutes } from './server.js'
import type { AuditEvent } from './audit/event.js'

/** The JSON lines a service's logger writes, kept for a test; `audit()` is the audit events among them. */
export function logCapture () {
  const lines: Array<Record<string, unknown>> = []
  let partial = ''
  const stream = new Writable({
    write (chunk, _encoding, done) {
      const text = partial + String(chunk)
      const parts = text.split('\n')
      partial = parts.pop() ?? ''
      for (const line of parts) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  return { lines, stream, audit: () => auditEventsOf(lines) }
}

/** The audit events among parsed log lines (a line with `audit: true` and an `event`). */
export function auditEventsOf (lines: Array<Record<string, unknown>>): AuditEvent[] {
  return lines.filter((line) => line.audit === true && line.event !== undefined).map((line) => line.event as AuditEvent)
}

/** The events of an audit Redis Stream, oldest first. */
export async function auditStreamEvents (redis: RedisClient, key: string): Promise<AuditEvent[]> {
  const entries = await redis.xrange(key, '-', '+')
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1] ?? 'null') as AuditEvent)
}

/** The Redis the tests use: LTILAUNCH_TEST_REDIS_URL, else REDIS_URL, else the local default. */
export function testRedisUrl (): string {
  return process.env.LTILAUNCH_TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
}

/** Redis is required (not merely used when present) in CI or when LTILAUNCH_REQUIRE_REDIS=1. */
export function redisRequired (): boolean {
  return process.env.CI === 'true' || process.env.CI === '1' || process.env.LTILAUNCH_REQUIRE_REDIS === '1'
}

/** A key prefix that no other test run shares. */
export function testPrefix (label = 'test'): string {
  return `ltilaunch-test:${label}:${randomBytes(6).toString('hex')}:`
}

/**
 * The Redis the tests use, as the services read it: a Cluster
 * (REDIS_CLUSTER_NODES) or Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME)
 * when the environment names one, so that the same tests run against each
 * topology (`pnpm test:redis`); otherwise the URL of testRedisUrl().
 */
export function testRedisSettings (): RedisSettings {
  const env = process.env
  if (env.REDIS_CLUSTER_NODES) return { REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES, REDIS_PASSWORD: env.REDIS_PASSWORD }
  if (env.REDIS_SENTINELS) return { REDIS_SENTINELS: env.REDIS_SENTINELS, REDIS_SENTINEL_NAME: env.REDIS_SENTINEL_NAME, REDIS_PASSWORD: env.REDIS_PASSWORD }
  return { REDIS_URL: testRedisUrl() }
}

/** What the tests' Redis is, for messages: the URL, or the topology and its nodes. */
export function describeTestRedis (): string {
  const settings = testRedisSettings()
  if (settings.REDIS_CLUSTER_NODES) return `the Redis Cluster at ${settings.REDIS_CLUSTER_NODES}`
  if (settings.REDIS_SENTINELS) return `the Redis behind the sentinels at ${settings.REDIS_SENTINELS}`
  return `Redis at ${settings.REDIS_URL}`
}

/**
 * A client of the tests' Redis made as the services make theirs
 * (createRedisClient), ready, or throwing after `timeoutMs`.
 */
export async function testRedisClient (timeoutMs = 10_000): Promise<RedisClient> {
  const client = createRedisClient(testRedisSettings())
  client.on('error', () => {}) // it reconnects on its own; commands report what fails
  if (!(await waitForRedis(client, timeoutMs))) {
    client.disconnect()
    throw new Error(`${describeTestRedis()} is not ready after ${timeoutMs} ms`)
  }
  return client
}

let reachable: Promise<boolean> | undefined

/** Whether the test Redis answers (asked once per process). */
export async function redisReachable (): Promise<boolean> {
  const settings = testRedisSettings()
  if (settings.REDIS_URL === undefined) {
    // A topology named in the environment is meant to be there: a missing one fails the test, not skips it.
    reachable ??= testRedisClient().then(async (client) => { await client.quit(); return true })
    return await reachable
  }
  reachable ??= (async () => {
    const probe = new Redis(testRedisUrl(), { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
    try {
      await probe.connect()
      await probe.ping()
      return true
    } catch {
      return false
    } finally {
      probe.disconnect()
    }
  })()
  return await reachable
}

/** The minimal slice of a tap test that these helpers use. */
export interface TestContext {
  teardown: (fn: () => unknown) => void
  comment: (...message: unknown[]) => void
}

/**
 * Deletes every key under a prefix (SCAN, not KEYS, so a shared Redis is not
 * blocked). On a Cluster each master is scanned, and keys are deleted one by
 * one, since one DEL cannot span slots.
 */
export async function deletePrefix (redis: RedisClient, prefix: string): Promise<number> {
  if (redis instanceof Cluster) {
    let deleted = 0
    for (const master of redis.nodes('master')) {
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, page] = await master.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
        cursor = next
        keys.push(...page)
      } while (cursor !== '0')
      const counts = await Promise.all(keys.map(async (key) => await redis.del(key)))
      deleted += counts.reduce((sum, n) => sum + n, 0)
    }
    return deleted
  }
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) deleted += await redis.del(...keys)
  } while (cursor !== '0')
  return deleted
}

/**
 * A real Redis store under a fresh prefix, emptied and closed after the test.
 * Without a reachable Redis it fails the test in CI, and elsewhere returns
 * undefined (with a comment) so the caller can skip.
 */
export async function redisStoreForTest (t: TestContext, label = 'store'): Promise<RedisStore | undefined> {
  if (!(await redisReachable())) {
    const message = `no Redis at ${testRedisUrl()} (set LTILAUNCH_TEST_REDIS_URL)`
    if (redisRequired()) throw new Error(message)
    t.comment(`SKIP: ${message}`)
    return undefined
  }
  const topology = testRedisSettings().REDIS_URL === undefined
  if (topology) t.comment(`on ${describeTestRedis()}`)
  const redis = topology ? await testRedisClient() : new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 })
  const prefix = testPrefix(label)
  const store = new RedisStore(redis, { prefix })
  t.teardown(async () => {
    await deletePrefix(redis, prefix)
    await redis.quit()
  })
  return store
}

/** An in-process store, closed after the test. */
export function memoryStoreForTest (t: TestContext): MemoryStore {
  const store = new MemoryStore()
  t.teardown(async () => await store.close())
  return store
}

/** Both kinds of store, for suites that must hold for each. */
export const STORE_KINDS = ['memory', 'redis'] as const

export async function storeForTest (t: TestContext, kind: typeof STORE_KINDS[number]): Promise<Store | undefined> {
  return kind === 'memory' ? memoryStoreForTest(t) : await redisStoreForTest(t, kind)
}

/** A request body that no route can use: each must be refused with a 4xx in the service's error shape. */
export interface BodyProbe {
  name: string
  contentType: string
  payload: string
  /** The body parses (a form of nonsense): the route itself answers, so any status below 500 is fine. */
  parsable?: boolean
}

/** Bodies that fail to parse, of every type a route might accept, and one longer than the body limit. */
export function unusableBodies (bodyLimit = 1024 * 1024): BodyProbe[] {
  const long = 'x'.repeat(bodyLimit + 1)
  return [
    { name: 'truncated JSON', contentType: 'application/json', payload: '{"a":' },
    { name: 'JSON with a raw NUL in a string', contentType: 'application/json', payload: '{"a":"\u0000"}' },
    { name: 'JSON with __proto__', contentType: 'application/json', payload: '{"__proto__":{"admin":true}}' },
    { name: 'empty JSON', contentType: 'application/json', payload: '' },
    { name: 'JSON longer than the body limit', contentType: 'application/json', payload: `{"a":"${long}"}` },
    { name: 'JSON in a charset we do not read', contentType: 'application/json; charset=utf-16', payload: '{}' },
    { name: 'a form longer than the body limit', contentType: 'application/x-www-form-urlencoded', payload: `a=${long}` },
    { name: 'a form in a charset we do not read', contentType: 'application/x-www-form-urlencoded; charset=shift_jis', payload: 'a=b' },
    { name: 'a form of nonsense', contentType: 'application/x-www-form-urlencoded', payload: '%%%\u0000=%zz&&=&a[b]=1&__proto__=x', parsable: true },
    { name: 'text/plain', contentType: 'text/plain', payload: '{"a":1}' },
    { name: 'text/plain in a bad charset', contentType: 'text/plain; charset=klingon', payload: 'a' },
    { name: 'an unknown type', contentType: 'application/x-unknown', payload: 'x' },
    { name: 'a content type that does not parse', contentType: ';;;', payload: 'x' }
  ]
}

interface InjectReply {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

/**
 * What is wrong with an error reply, if anything: it must be a 4xx (never a
 * 5xx), JSON of the kit's shape with a code under `prefix`, and carry the
 * security headers. `alsoAccept` admits a route's own documented error
 * shape (RFC 6749 errors at OAuth endpoints).
 */
export function errorReplyProblems (res: InjectReply, prefix: string, alsoAccept?: (body: Record<string, unknown>) => boolean): string[] {
  const problems: string[] = []
  if (res.statusCode < 400 || res.statusCode >= 500) problems.push(`status ${res.statusCode}, not a 4xx`)
  if (res.headers['x-content-type-options'] !== 'nosniff') problems.push('no X-Content-Type-Options: nosniff')
  if (res.headers['referrer-policy'] === undefined) problems.push('no Referrer-Policy')
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(res.body) as Record<string, unknown>
  } catch {
    problems.push(`body is not JSON: ${res.body.slice(0, 80)}`)
    return problems
  }
  if (alsoAccept?.(body) === true) return problems
  const shaped = typeof body.code === 'string' && body.code.startsWith(`${prefix}_`) &&
    body.statusCode === res.statusCode && typeof body.error === 'string' && typeof body.message === 'string'
  if (!shaped) problems.push(`body is not {statusCode, code: ${prefix}_..., error, message}: ${res.body.slice(0, 160)}`)
  return problems
}

/** An RFC 6749 5.2 error body, which OAuth endpoints answer with instead of the kit's shape. */
export function isOAuthError (body: Record<string, unknown>): boolean {
  return typeof body.error === 'string' && /^[a-z_]+$/.test(body.error) && typeof body.error_description === 'string'
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * Sends every unusable body to every route of a server built by
 * `createServer` that takes a body, and returns how many requests it sent and
 * what was wrong with the replies (none, when the service is sound).
 */
export async function probeUnusableBodies (
  app: { inject: (options: { method: string, url: string, headers: Record<string, string>, payload: string }) => Promise<InjectReply> },
  options: { prefix: string, bodyLimit?: number, alsoAccept?: (url: string, body: Record<string, unknown>) => boolean }
): Promise<{ sent: number, problems: string[] }> {
  const problems: string[] = []
  let sent = 0
  const routes = registeredRoutes(app).filter((route) => BODY_METHODS.has(route.method))
  for (const route of routes) {
    const url = route.url.replace(/:[A-Za-z0-9_]+/g, 'x0x0x0x0').replace(/\*/g, 'x')
    for (const probe of unusableBodies(options.bodyLimit)) {
      const res = await app.inject({ method: route.method, url, headers: { 'content-type': probe.contentType }, payload: probe.payload })
      sent++
      // A body that parses is the route's to judge: a redirect or a page is fine, a 5xx is not.
      if (probe.parsable === true && res.statusCode < 400) continue
      const alsoAccept = options.alsoAccept === undefined ? undefined : (body: Record<string, unknown>) => options.alsoAccept?.(route.url, body) === true
      for (const problem of errorReplyProblems(res, options.prefix, alsoAccept)) {
        problems.push(`${route.method} ${route.url} with ${probe.name}: ${problem}`)
      }
    }
  }
  return { sent, problems }
}

/** Sends raw bytes to a listening server and returns what it answered before closing (or `ms` passing). */
export async function rawHttpExchange (port: number, request: string, ms = 5000): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let reply = ''
  socket.on('data', (chunk) => { reply += String(chunk) })
  socket.on('error', () => {})
  const closed = once(socket, 'close')
  socket.write(request)
  const timer = setTimeout(() => socket.destroy(), ms)
  await closed
  clearTimeout(timer)
  return reply
}

/** A raw HTTP reply as an inject reply, for `errorReplyProblems`. */
function parseRawReply (raw: string): InjectReply {
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2)
  const [status = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { statusCode: Number(status.split(' ')[1] ?? 0), headers, body }
}

/**
 * The replies made outside any route, checked on a service: 404 (JSON and
 * page), 405 on a known path, 414 on an over-long path parameter, and 431 for
 * headers Node refuses (over a real socket). Returns what was checked and
 * what was wrong.
 */
export async function probeProtocolErrors (
  app: Parameters<typeof probeUnusableBodies>[0] & { listen: (options: { host: string, port: number }) => Promise<string>, server: { address: () => unknown, listening: boolean } },
  options: { prefix: string }
): Promise<{ checked: string[], problems: string[] }> {
  const { prefix } = options
  const checked: string[] = []
  const problems: string[] = []
  const check = (name: string, res: InjectReply, status: number): void => {
    checked.push(name)
    if (res.statusCode !== status) problems.push(`${name}: status ${res.statusCode}, not ${status}`)
    for (const problem of errorReplyProblems(res, prefix)) problems.push(`${name}: ${problem}`)
  }
  const routes = registeredRoutes(app)

  check('404', await app.inject({ method: 'GET', url: '/no/such/place', headers: {}, payload: '' }), 404)
  const page = await app.inject({ method: 'GET', url: '/no/such/place', headers: { accept: 'text/html' }, payload: '' })
  checked.push('404 page')
  if (page.statusCode !== 404 || !String(page.headers['content-type']).startsWith('text/html')) problems.push(`404 page: ${page.statusCode} ${String(page.headers['content-type'])}`)
  if (!/default-src 'none'/.test(String(page.headers['content-security-policy']))) problems.push('404 page: no CSP')
  if (page.headers['x-content-type-options'] !== 'nosniff') problems.push('404 page: no nosniff')

  const plain = routes.find((route) => route.method === 'GET' && !route.url.includes(':') && !route.url.includes('*'))
  if (plain !== undefined) {
    const res = await app.inject({ method: 'PATCH', url: plain.url, headers: {}, payload: '' })
    check(`405 (PATCH ${plain.url})`, res, 405)
    if (res.headers.allow === undefined) problems.push(`405 (PATCH ${plain.url}): no Allow header`)
  }

  const withParam = routes.find((route) => route.method === 'GET' && /:[A-Za-z0-9_]+/.test(route.url))
  if (withParam !== undefined) {
    const url = withParam.url.replace(/:[A-Za-z0-9_]+/, 'p'.repeat(300)).replace(/:[A-Za-z0-9_]+/g, 'x')
    check(`414 (GET ${withParam.url})`, await app.inject({ method: 'GET', url, headers: {}, payload: '' }), 414)
  }

  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  check('431', parseRawReply(await rawHttpExchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`)), 431)
  return { checked, problems }
}

/** One sample of a Prometheus text exposition: its metric name, labels and value. */
export interface MetricSample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The samples of a text exposition (comments skipped); `name` keeps only that metric's. */
export function metricSamples (exposition: string, name?: string): MetricSample[] {
  const out: MetricSample[] = []
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (match === null || (name !== undefined && match[1] !== name)) continue
    const labels: Record<string, string> = {}
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_all, c: string) => c === 'n' ? '\n' : c)
    }
    out.push({ name: match[1] as string, labels, value: Number(match[3]) })
  }
  return out
}

/** The sum of a metric's samples whose labels include `labels`. */
export function metricValue (exposition: string, name: string, labels: Record<string, string> = {}): number {
  return metricSamples(exposition, name)
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0)
}

/** What an app's metrics listener (METRICS_PORT) serves now, fetched over real HTTP. */
export async function scrapeMetrics (app: { metricsAddress: () => { port: number } | undefined }, token?: string): Promise<string> {
  const address = app.metricsAddress()
  if (address === undefined) throw new Error('the app has no metrics listener: build it with METRICS_PORT=0')
  const response = await fetch(`http://127.0.0.1:${address.port}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
  if (!response.ok) throw new Error(`the metrics listener answered ${response.status}`)
  return await response.text()
}
