import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { maskedPathLogSerializers } from '@ltilaunch/service-kit'
import { Type } from 'typebox'
import { ResumeUnknown } from '../../errors.js'
import { SESSION_COOKIE } from '../../plugins/sessions.js'
import { cookieOptions, publicBase } from '../../lib/urls.js'
import { framedLaunchPage } from '../../views/binding.js'

/** What a resume ticket stands for: a session opened in a frame, and where it was going. */
interface ResumeTicket {
  sessionId: string
  destination: string
}

const TICKET = /^[A-Za-z0-9_-]{43}$/

// The resume link is a capability (it hands over a session): keep it out of the log.
const resumeLogSerializers = maskedPathLogSerializers(/^\/lti13\/resume\/[^/?]+/, '/lti13/resume/[ticket]')

/**
 * Ends a launch that happened in a frame: the session cookie set there is a
 * third-party cookie the browser may drop, and the hub's own sign-in needs
 * first-party cookies. The page offers a new tab whose first stop is a
 * one-time link that sets the session cookie top-level, then goes on.
 */
export async function offerNewTab (fastify: FastifyInstance, request: FastifyRequest, reply: FastifyReply, sessionId: string, destination: string, spawning: boolean): Promise<FastifyReply> {
  const { config, store } = fastify
  const ticket = randomBytes(32).toString('base64url')
  await store.put(`resume:${ticket}`, { sessionId, destination } satisfies ResumeTicket, config.STATE_TTL)
  return await reply.code(200).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(framedLaunchPage({
    toolName: config.tool_name,
    resumeUrl: `${publicBase(request, config)}/lti13/resume/${ticket}`,
    spawning
  }))
}

const resumeRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  fastify.get('/lti13/resume/:ticket', {
    logSerializers: resumeLogSerializers,
    schema: { params: Type.Object({ ticket: Type.String({ maxLength: 100 }) }), response: { 303: Type.Null() } }
  }, async (request, reply) => {
    const { ticket } = request.params
    const resume = TICKET.test(ticket) ? await store.take<ResumeTicket>(`resume:${ticket}`) : undefined
    if (resume === undefined) throw new ResumeUnknown()
    reply.setCookie(SESSION_COOKIE, resume.sessionId, cookieOptions(request, config, config.SESSION_TTL))
    request.log.info('framed launch resumed top-level')
    return await reply.code(303).header('cache-control', 'no-store').redirect(resume.destination)
  })
}

export default resumeRoutes
