import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { MemoryStore } from './store/memory.js'
import { RedisStore } from './store/redis.js'
import type { Store } from './store/store.js'
import { registeredRoutes } from './server.js'

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

let reachable: Promise<boolean> | undefined

/** Whether the test Redis answers (asked once per process). */
export async function redisReachable (): Promise<boolean> {
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

/** Deletes every key under a prefix (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deletePrefix (redis: Redis, prefix: string): Promise<number> {
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
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 })
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
