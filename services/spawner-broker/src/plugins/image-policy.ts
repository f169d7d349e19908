import fp from 'fastify-plugin'
import { loadImagePolicy, type ImagePolicy } from '../policy/image-policy.js'

declare module 'fastify' {
  interface FastifyInstance {
    imagePolicy: ImagePolicy
  }
}

/** The image policy, read and checked once at start (a bad one stops the start). */
export default fp(async function imagePolicyPlugin (fastify) {
  fastify.decorate('imagePolicy', await loadImagePolicy(fastify.config))
}, { name: 'broker-image-policy', fastify: '5.x' })
