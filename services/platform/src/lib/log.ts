import type { FastifyRequest } from 'fastify'

/**
 * A request log serializer for routes whose URL carries a secret: the
 * query (state, nonce, message hint) is dropped and a one-time launch ticket
 * in the path is masked, so that reading the logs never yields a usable
 * capability.
 */
export const secretUrlSerializers = {
  req (request: FastifyRequest) {
    const path = request.url.split('?')[0] ?? ''
    return {
      method: request.method,
      url: path.replace(/^\/launches\/[^/]+/, '/launches/[ticket]'),
      host: request.host,
      remoteAddress: request.ip
    }
  }
}
