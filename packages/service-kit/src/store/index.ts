import type { FastifyBaseLogger } from 'fastify'
import { MemoryStore } from './memory.js'
import { createRedisClient, redisConfigured, RedisStore, waitForRedis, type RedisSettings } from './redis.js'
import type { Store } from './store.js'

export { MemoryStore } from './memory.js'
export { createRedisClient, redisConfigured, RedisStore, waitForRedis, type RedisClient, type RedisSettings } from './redis.js'
export { StoreUnavailableError, type Store, type StoreOperation } from './store.js'

/**
 * The store a service runs on: Redis when the settings name one, otherwise
 * the in-process store, which says once that it serves a single instance.
 */
export async function createStore (
  settings: RedisSettings & { REDIS_KEY_PREFIX?: string | undefined },
  options: { service: string, log: FastifyBaseLogger }
): Promise<Store> {
  const prefix = settings.REDIS_KEY_PREFIX ?? `ltilaunch:${options.service}:`
  if (!redisConfigured(settings)) {
    options.log.warn('no REDIS_URL: keeping state in this process; run a single instance only')
    return new MemoryStore({ prefix })
  }
  const client = createRedisClient(settings)
  client.on('error', (err: Error) => options.log.warn({ err: err.message }, 'redis connection error'))
  if (!(await waitForRedis(client))) {
    // Start anyway: /readyz reports it, and the client keeps reconnecting.
    options.log.error('redis is not answering yet; requests that need state get 503 until it does')
  }
  return new RedisStore(client, { prefix })
}
