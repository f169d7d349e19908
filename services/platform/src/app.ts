import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import { RedisStore, serviceKit, type Store } from '@ltilaunch/service-kit'
import type { FastifyPluginAsync } from 'fastify'
import type { PlatformConfig } from './config.js'
import keysPlugin from './plugins/keys.js'
import launchesPlugin from './plugins/launches.js'
import metricsPlugin from './plugins/metrics.js'
import registryPlugin from './plugins/registry.js'
import scoreWebhookPlugin from './plugins/score-webhook.js'
import servicesPlugin from './plugins/services.js'
import sessionsPlugin from './plugins/sessions.js'
import adminTools from './routes/admin/tools.js'
import launchApi from './routes/api/launches.js'
import linksApi from './routes/api/links.js'
import scoresApi from './routes/api/scores.js'
import login from './routes/auth/login.js'
import launchPage from './routes/launch/index.js'
import coursePages from './routes/courses/index.js'
import agsRoutes from './routes/lti/ags.js'
import authorize from './routes/lti/authorize.js'
import nrpsRoutes from './routes/lti/nrps.js'
import tokenRoute from './routes/lti/token.js'
import registerRoutes from './routes/lti/register.js'
import deepLinkReturn from './routes/lti/deep-link-return.js'
import wellKnown from './routes/well-known/index.js'

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
    // The platform's pages are framed by nobody but itself, unless FRAME_ANCESTORS names a host site.
    frameAncestors: 'self',
    ...(options.store ? { store: options.store } : {})
  })
  await fastify.register(formbody)
  // Limits on the routes that ask for one (sign-in). The counters live in the
  // store's Redis, so every replica counts the same attempts; a Redis error
  // lets the request through to the store, which answers 503.
  const store = fastify.store
  await fastify.register(rateLimit, {
    global: false,
    skipOnError: true,
    ...(store instanceof RedisStore ? { redis: store.redis, nameSpace: `${store.prefix}rate:` } : {})
  })

  await fastify.register(metricsPlugin)
  await fastify.register(keysPlugin)
  await fastify.register(registryPlugin)
  await fastify.register(sessionsPlugin)
  await fastify.register(servicesPlugin)
  await fastify.register(scoreWebhookPlugin)
  await fastify.register(launchesPlugin)

  await fastify.register(wellKnown)
  await fastify.register(login)
  await fastify.register(launchPage)
  await fastify.register(authorize)
  await fastify.register(launchApi)
  await fastify.register(registerRoutes)
  await fastify.register(adminTools)
  await fastify.register(coursePages)
  await fastify.register(deepLinkReturn)
  await fastify.register(linksApi)
  await fastify.register(tokenRoute)
  await fastify.register(agsRoutes)
  await fastify.register(nrpsRoutes)
  await fastify.register(scoresApi)
}

export default app
