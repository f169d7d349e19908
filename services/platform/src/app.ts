import { serviceKit, type Store } from '@ltilaunch/service-kit'
import type { FastifyPluginAsync } from 'fastify'
import type { PlatformConfig } from './config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: PlatformConfig
  }
}

export interface AppOptions {
  config: PlatformConfig
  /** A ready store (tests); otherwise the kit builds one from the config. */
  store?: Store
}

/** The platform service as a plugin: the kit first, then plugins/, then routes/. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  fastify.decorate('config', options.config)
  await fastify.register(serviceKit, {
    service: 'platform',
    errorPrefix: 'PLATFORM',
    config: options.config,
    ...(options.store ? { store: options.store } : {})
  })
}

export default app
