import { serviceKit, type Store } from '@ltilaunch/service-kit'
import type { FastifyPluginAsync } from 'fastify'
import type { BrokerConfig } from './config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: BrokerConfig
  }
}

export interface AppOptions {
  config: BrokerConfig
  /** A ready store (tests); otherwise the kit builds one from the config. */
  store?: Store
}

/** The spawner-broker service as a plugin: the kit first, then plugins/, then routes/. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  fastify.decorate('config', options.config)
  await fastify.register(serviceKit, {
    service: 'spawner-broker',
    errorPrefix: 'BROKER',
    config: options.config,
    ...(options.store ? { store: options.store } : {})
  })
}

export default app
