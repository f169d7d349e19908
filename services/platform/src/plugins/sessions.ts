import cookie from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { StoreOperation } from '@ltilaunch/service-kit'
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
  /** Like start, but hands back the write, for the caller to send with its own in one round trip. */
  open: (reply: FastifyReply, data: Pick<Session, 'kind' | 'userId'>, ttlSeconds: number) => { session: Session, write: StoreOperation }
  current: (request: FastifyRequest) => Promise<Session | undefined>
  /** The read behind `current`, to batch with others; undefined when the browser has no session cookie. */
  readOperation: (request: FastifyRequest) => StoreOperation | undefined
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

  function open (reply: FastifyReply, data: Pick<Session, 'kind' | 'userId'>, ttlSeconds: number): { session: Session, write: StoreOperation } {
    const session: Session = { id: randomToken(), csrf: randomToken(), kind: data.kind, userId: data.userId }
    reply.setCookie(SESSION_COOKIE, session.id, { path: '/', httpOnly: true, sameSite: 'lax', secure, signed: true, maxAge: ttlSeconds })
    return { session, write: { op: 'set', key: key(session.id), value: session, ttlSeconds } }
  }

  function readOperation (request: FastifyRequest): StoreOperation | undefined {
    const id = idFrom(request)
    return id === undefined ? undefined : { op: 'get', key: key(id) }
  }

  fastify.decorate('sessions', {
    async start (reply, data, ttlSeconds) {
      const { session, write } = open(reply, data, ttlSeconds)
      await fastify.store.batch([write])
      return session
    },
    open,
    async current (request) {
      const id = idFrom(request)
      return id === undefined ? undefined : await fastify.store.get<Session>(key(id))
    },
    readOperation,
    async end (request, reply) {
      const id = idFrom(request)
      if (id !== undefined) await fastify.store.delete(key(id))
      reply.clearCookie(SESSION_COOKIE, { path: '/' })
    }
  } satisfies Sessions)
}, { name: 'platform-sessions', fastify: '5.x', dependencies: ['platform-keys', 'ltilaunch-store'] })
