import fp from 'fastify-plugin'
import { LaunchRepository } from '../launches/records.js'

declare module 'fastify' {
  interface FastifyInstance {
    launches: LaunchRepository
  }
}

/** Launch records in the shared store, with LAUNCH_TTL. */
export default fp(async function launchesPlugin (fastify) {
  fastify.decorate('launches', new LaunchRepository(fastify.store, fastify.config.LAUNCH_TTL))
}, { name: 'broker-launches', fastify: '5.x', dependencies: ['ltilaunch-store'] })
