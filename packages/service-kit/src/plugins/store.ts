import fp from 'fastify-plugin'
import { instrumentStore } from '../metrics.js'
import { createStore, RedisStore, type RedisSettings, type Store } from '../store/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

export interface StorePluginOptions {
  service: string
  settings: RedisSettings & { REDIS_KEY_PREFIX?: string | undefined }
  /** Use this store instead of building one from the settings (tests). */
  store?: Store
}

/** Decorates `fastify.store` and closes it with the server. */
export default fp<StorePluginOptions>(async function storePlugin (fastify, options) {
  const store = options.store ?? await createStore(options.settings, { service: options.service, log: fastify.log })
  // Timed when the app keeps metrics; callers see the same store either way.
  if (fastify.hasDecorator('metrics')) {
    const metrics = fastify.metrics
    fastify.decorate('store', instrumentStore(store, metrics))
    if (store instanceof RedisStore && options.store === undefined) store.redis.on('error', () => metrics.redisConnectionErrors.inc())
  } else {
    fastify.decorate('store', store)
  }
  fastify.addHook('onClose', async () => {
    // A store handed in by a test belongs to the test.
    if (options.store === undefined) await store.close()
  })
}, { name: 'ltilaunch-store', fastify: '5.x' })
