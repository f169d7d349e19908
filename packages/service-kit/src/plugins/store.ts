import fp from 'fastify-plugin'
import { createStore, type RedisSettings, type Store } from '../store/index.js'

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
  fastify.decorate('store', store)
  fastify.addHook('onClose', async () => {
    // A store handed in by a test belongs to the test.
    if (options.store === undefined) await store.close()
  })
}, { name: 'ltilaunch-store', fastify: '5.x' })
