import cookie from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { randomToken } from '../lib/csrf.js'

export const SESSION_COOKIE = 'ltilaunch_platform_session'

/**
 * A browser's sign-in. `user` sessions come from the demo sign-in and may use
 * the launch page; `launch` sessions come from a one-time launch URL and are
 * good for that one launch only.
 */
export interface Session {
  id: string
  kind: 'user' | 'launch'
  /** The issuer-local user id (the username for demo users). */
  userId: string
  /** Guards this session's forms (launch, sign out). */
  csrf: string
}

export interface Sessions {
  start: (reply: FastifyReply, data: Pick<Session, 'kind' | 'userId'>, ttlSeconds: number) => Promise<Session>
  current: (request: FastifyRequest) => Promise<Session | undefined>
  end: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions
  }
}

const key = (id: string): string => `session:${id}`

/**
 * Sessions live in the store (any replica can read them); the cookie holds
 * only a signed, random id. SameSite=Lax: sent on the top-level GET that a
 * tool redirects to /lti/authorize, never on a cross-site POST (see the
 * authorize route for how those are handled).
 */
export default fp(async function sessionsPlugin (fastify) {
  await fastify.register(cookie, { secret: fastify.keys.sessionSecret })
  const secure = fastify.config.publicUrl.startsWith('https://')

  const idFrom = (request: FastifyRequest): string | undefined => {
    const value = request.cookies[SESSION_COOKIE]
    if (value === undefined) return undefined
    const unsigned = request.unsignCookie(value)
    return unsigned.valid && unsigned.value !== null ? unsigned.value : undefined
  }

  fastify.decorate('sessions', {
    async start (reply, data, ttlSeconds) {
      const session: Session = { id: randomToken(), csrf: randomToken(), kind: data.kind, userId: data.userId }
      await fastify.store.set(key(session.id), session, ttlSeconds)
      reply.setCookie(SESSION_COOKIE, session.id, { path: '/', httpOnly: true, sameSite: 'lax', secure, signed: true, maxAge: ttlSeconds })
      return session
    },
    async current (request) {
      const id = idFrom(request)
      if (id === undefined) return undefined
      return await fastify.store.get<Session>(key(id))
    },
    async end (request, reply) {
      const id = idFrom(request)
      if (id !== undefined) await fastify.store.delete(key(id))
      reply.clearCookie(SESSION_COOKIE, { path: '/' })
    }
  } satisfies Sessions)
}, { name: 'platform-sessions', fastify: '5.x', dependencies: ['platform-keys', 'ltilaunch-store'] })
