import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Unauthorized } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: the request carries `Authorization: Bearer <BROKER_SERVICE_TOKEN>`. */
    requireServiceToken: (request: FastifyRequest) => Promise<void>
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/** The service token check, in constant time (both sides hashed to one length first). */
export default fp(async function serviceAuthPlugin (fastify) {
  const expected = digest(fastify.config.BROKER_SERVICE_TOKEN)
  fastify.decorate('requireServiceToken', async (request: FastifyRequest) => {
    const header = request.headers.authorization ?? ''
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) throw new Unauthorized()
  })
}, { name: 'broker-service-auth', fastify: '5.x' })
