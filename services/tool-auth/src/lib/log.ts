import type { FastifyRequest } from 'fastify'

/**
 * A request log serializer for routes whose query carries one-time values
 * (the platform's login_hint and lti_message_hint, OAuth state and PKCE
 * challenge): the query is left out of the log, so reading logs never
 * yields a usable launch.
 */
export const queryFreeLogSerializers = {
  req (request: FastifyRequest) {
    return {
      method: request.method,
      url: request.url.split('?')[0] ?? '',
      host: request.host,
      remoteAddress: request.ip
    }
  }
}
