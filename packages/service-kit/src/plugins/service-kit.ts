import fp from 'fastify-plugin'
import type { BaseConfig } from '../config.js'
import type { Store } from '../store/index.js'
import errorsPlugin from './errors.js'
import healthPlugin from './health.js'
import storePlugin from './store.js'

export interface ServiceKitOptions {
  service: string
  /** Prefix of the service's error codes, such as PLATFORM or TOOL_AUTH. */
  errorPrefix: string
  config: BaseConfig
  /** A ready store (tests); otherwise one is built from the config. */
  store?: Store
}

/** What every service registers first: the error handler, the store, and health routes. */
export default fp<ServiceKitOptions>(async function serviceKit (fastify, options) {
  await fastify.register(errorsPlugin, { prefix: options.errorPrefix })
  await fastify.register(storePlugin, {
    service: options.service,
    settings: options.config,
    ...(options.store ? { store: options.store } : {})
  })
  await fastify.register(healthPlugin, { service: options.service })
}, { name: 'ltilaunch-service-kit', fastify: '5.x' })
