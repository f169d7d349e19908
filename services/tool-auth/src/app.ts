import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import { RedisStore, serviceKit, type Store } from '@ltilaunch/service-kit'
import type { FastifyPluginAsync } from 'fastify'
import type { ToolAuthConfig } from './config.js'
import brokerPlugin from './plugins/broker.js'
import jwksPlugin from './plugins/jwks.js'
import oauthPlugin from './plugins/oauth.js'
import platformServicesPlugin from './plugins/platform-services.js'
import platformsPlugin from './plugins/platforms.js'
import rostersPlugin from './plugins/rosters.js'
import scoresPlugin from './plugins/scores.js'
import sessionsPlugin from './plugins/sessions.js'
import toolKeysPlugin from './plugins/tool-keys.js'
import callbackRoutes from './routes/lti13/callback.js'
import resumeRoutes from './routes/lti13/resume.js'
import configRoutes from './routes/lti13/config.js'
import deepLinkRoutes from './routes/lti13/deep-link.js'
import loginRoutes from './routes/lti13/login.js'
import registerRoutes from './routes/lti13/register.js'
import authorizeRoutes from './routes/oauth2/authorize.js'
import metadataRoutes from './routes/oauth2/metadata.js'
import tokenRoutes from './routes/oauth2/token.js'
import userinfoRoutes from './routes/oauth2/userinfo.js'
import rostersRoutes from './routes/rosters.js'
import scoresRoutes from './routes/scores.js'

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
  const { config } = options
  fastify.decorate('config', config)
  await fastify.register(serviceKit, {
    service: 'tool-auth',
    errorPrefix: 'TOOL_AUTH',
    config,
    ...(options.store ? { store: options.store } : {})
  })
  await fastify.register(cookie)
  await fastify.register(formbody)
  // Opt-in per route (lib/rate-limit.ts: login and callback per address,
  // failed client authentications at the token endpoint). Shared across
  // replicas when the store is Redis; a Redis error lets the request through
  // to the store, which answers 503.
  const store = fastify.store
  await fastify.register(rateLimit, {
    global: false,
    skipOnError: true,
    ...(store instanceof RedisStore ? { redis: store.redis, nameSpace: `${store.prefix}rate:` } : {})
  })

  await fastify.register(platformsPlugin)
  await fastify.register(jwksPlugin)
  await fastify.register(toolKeysPlugin)
  await fastify.register(platformServicesPlugin)
  await fastify.register(scoresPlugin)
  await fastify.register(brokerPlugin)
  await fastify.register(sessionsPlugin)
  await fastify.register(oauthPlugin)
  await fastify.register(rostersPlugin)

  await fastify.register(loginRoutes)
  await fastify.register(callbackRoutes)
  await fastify.register(deepLinkRoutes)
  await fastify.register(resumeRoutes)
  await fastify.register(configRoutes)
  await fastify.register(registerRoutes)
  await fastify.register(authorizeRoutes)
  await fastify.register(tokenRoutes)
  await fastify.register(userinfoRoutes)
  await fastify.register(metadataRoutes)
  await fastify.register(scoresRoutes)
  await fastify.register(rostersRoutes)
}

export default app
