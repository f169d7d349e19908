import { serviceKit, type Store } from '@ltilaunch/service-kit'
import type { FastifyPluginAsync } from 'fastify'
import type { ToolAuthConfig } from './config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: ToolAuthConfig
  }
}

export interface AppOptions {
  config: ToolAuthConfig
  /** A ready store (tests); otherwise the kit builds one from the config. */
  store?: Store
}

/** The tool-auth service as a plugin: the kit first, then plugins/, then routes/. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  fastify.decorate('config', options.config)
  await fastify.register(serviceKit, {
    service: 'tool-auth',
    errorPrefix: 'TOOL_AUTH',
    config: options.config,
    ...(options.store ? { store: options.store } : {})
  })
}

export default app
