import type { RateLimitOptions } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ToolAuthConfig } from '../config.js'
import { ClientAuthRateLimited, RateLimited } from '../errors.js'

/*
 * Two kinds of caller, two kinds of limit.
 *
 * Browsers (login initiation, callback) are counted per client address. A
 * lecture hall behind one NAT address is one address: 500 students who
 * launch within a minute make about 1,000 to 2,000 requests there (a login
 * and a callback each, and retries), so the default (3,000 a minute) stays
 * out of their way while still capping a single abusive address.
 *
 * Servers that authenticate with client credentials (the hub at
 * /oauth2/token; /oauth2/userinfo takes the token it got there) are not
 * counted per address at all: the hub makes every call from one address.
 * Only failed client authentications are counted, per (client id, address),
 * and only they are refused once there are too many. Keying by the client id
 * alone would let anyone who knows the hub's (public) client id lock the hub
 * out by failing on purpose; with the address in the key the hub's own
 * address never counts a failure unless the hub's secret is wrong.
 */

const windowMs = (config: ToolAuthConfig): number => config.RATE_LIMIT_WINDOW * 1000

/** The route option of browser routes (login, callback): per address; false when RATE_LIMIT_MAX is 0. */
export function rateLimited (config: ToolAuthConfig): RateLimitOptions | false {
  if (config.RATE_LIMIT_MAX === 0) return false
  return {
    max: config.RATE_LIMIT_MAX,
    timeWindow: windowMs(config),
    errorResponseBuilder: (_request, context) => new RateLimited(Math.max(1, Math.ceil(context.ttl / 1000)))
  }
}

export interface ClientAuthFailures {
  /** Throws TOOL_AUTH_RATE_LIMITED (429, Retry-After) when this client id has failed too often from this address. */
  refuseIfExceeded: (request: FastifyRequest, reply: FastifyReply, clientId: string) => Promise<void>
  /** Counts one failed client authentication. */
  failed: (request: FastifyRequest, clientId: string) => Promise<void>
}

/**
 * The failed-client-authentication counter of the token endpoint, or
 * undefined when CLIENT_AUTH_FAILURE_MAX is 0. Needs @fastify/rate-limit
 * registered (app.ts), whose store is Redis when the service's store is.
 */
export function clientAuthFailures (fastify: FastifyInstance, config: ToolAuthConfig): ClientAuthFailures | undefined {
  if (config.CLIENT_AUTH_FAILURE_MAX === 0) return undefined
  const claimed = new WeakMap<FastifyRequest, string>()
  const limiter = fastify.createRateLimit({
    max: config.CLIENT_AUTH_FAILURE_MAX,
    timeWindow: windowMs(config),
    // Failing open: a store error must not lock the hub out (the store answers 503 later anyway).
    skipOnError: true,
    keyGenerator: (request) => `client-auth:${claimed.get(request) ?? ''}:${request.ip}`
  })
  return {
    async refuseIfExceeded (request, reply, clientId) {
      claimed.set(request, clientId)
      const status = await limiter(request, { increment: false })
      if (!status.isAllowed && status.remaining === 0 && status.ttl > 0) {
        const seconds = Math.max(1, status.ttlInSeconds)
        reply.header('retry-after', String(seconds))
        throw new ClientAuthRateLimited(seconds)
      }
    },
    async failed (request, clientId) {
      claimed.set(request, clientId)
      await limiter(request)
    }
  }
}
