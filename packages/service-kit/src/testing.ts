import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { MemoryStore } from './store/memory.js'
import { RedisStore } from './store/redis.js'
import type { Store } from './store/store.js'

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
