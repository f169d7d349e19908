import { randomBytes } from 'node:crypto'
import type { HubUserInfo } from '@ltilaunch/claims'
import type { StoreOperation } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { cookieOptions } from '../lib/urls.js'

export const SESSION_COOKIE = 'ltilaunch_session'

/** What a browser's session holds after a valid launch. */
export interface LaunchSession {
  username: string
  userinfo: HubUserInfo
  /** The broker's launch, when the launch was a notebook spawn. */
  launchId?: string
  progressUrl?: string
  /** Where the launch went when it was not a spawn. */
  next?: string
  createdAt: number
}

export interface Sessions {
  /**
   * Stores the session, sets its cookie, and ends the browser's previous
   * session; `alongside` are other writes of the launch, sent in the same
   * round trip.
   */
  open: (request: FastifyRequest, reply: FastifyReply, session: LaunchSession, alongside?: StoreOperation[]) => Promise<string>
  /** The browser's live session, if any. */
  current: (request: FastifyRequest) => Promise<LaunchSession | undefined>
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions
  }
}

/** Only well-formed ids reach the store. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/** Browser sessions: an opaque id in an HttpOnly cookie, the data in the store with a TTL. */
export default fp(async function sessionsPlugin (fastify) {
  const ttl = fastify.config.SESSION_TTL
  const key = (id: string): string => `session:${id}`
  const cookieId = (request: FastifyRequest): string | undefined => {
    const id = request.cookies[SESSION_COOKIE]
    return id !== undefined && SESSION_ID.test(id) ? id : undefined
  }

  fastify.decorate('sessions', {
    async open (request: FastifyRequest, reply: FastifyReply, session: LaunchSession, alongside: StoreOperation[] = []): Promise<string> {
      const id = randomBytes(32).toString('base64url')
      const previous = cookieId(request)
      await fastify.store.batch([
        { op: 'set', key: key(id), value: session, ttlSeconds: ttl },
        ...(previous !== undefined ? [{ op: 'delete', key: key(previous) } as const] : []),
        ...alongside
      ])
      reply.setCookie(SESSION_COOKIE, id, cookieOptions(request, fastify.config, ttl))
      return id
    },
    async current (request: FastifyRequest): Promise<LaunchSession | undefined> {
      const id = cookieId(request)
      return id === undefined ? undefined : await fastify.store.get<LaunchSession>(key(id))
    }
  })
}, { name: 'tool-auth-sessions' })
