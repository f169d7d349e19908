import fp from 'fastify-plugin'
import { LaunchServicesRepository } from '../lib/launch-services.js'
import { PlatformTokens } from '../lib/platform-token.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Access tokens for the platforms' LTI Advantage services (grades, rosters). */
    platformTokens: PlatformTokens
    /** Each user's latest launch per course, with its grade and roster endpoints. */
    launchServices: LaunchServicesRepository
  }
}

/** The tool's side of LTI Advantage services: platform access tokens and the launches' service claims. */
export default fp(async function platformServicesPlugin (fastify) {
  const { config, store, toolKeys } = fastify
  fastify.decorate('platformTokens', new PlatformTokens({ store, signer: toolKeys, timeoutMs: config.PLATFORM_TIMEOUT_MS }))
  fastify.decorate('launchServices', new LaunchServicesRepository(store, config.LAUNCH_SERVICES_TTL))
}, { name: 'tool-auth-platform-services', dependencies: ['tool-auth-tool-keys'] })
