import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { HubTokenMissing, RosterNeverSynced, RosterNoLaunch, RosterNotStaff, ScoresOff } from '../errors.js'
import type { LaunchServices } from '../lib/launch-services.js'

const CourseBody = Type.Object({
  /** The course (LTI context id); without it, the course of the server the token belongs to. */
  course: Type.Optional(Type.String({ minLength: 1, maxLength: 255 }))
})

const Outcome = Type.Object({
  issuer: Type.String(),
  contextId: Type.String(),
  trigger: Type.String(),
  startedAt: Type.String(),
  finishedAt: Type.String(),
  ok: Type.Boolean(),
  pages: Type.Integer(),
  members: Type.Integer(),
  created: Type.Integer(),
  grouped: Type.Integer(),
  unchanged: Type.Integer(),
  removed: Type.Integer(),
  inactive: Type.Integer(),
  skipped: Type.Record(Type.String(), Type.Integer()),
  taken: Type.Array(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }))
})

/**
 * Course rosters on demand, for the course's staff: the same hub token as
 * the scores API (a notebook server's JUPYTERHUB_API_TOKEN, or the user's
 * own token with `course`), checked with the hub; staff by the role of
 * their latest launch in that course.
 */
const rostersRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { launchServices } = fastify

  async function staffLaunch (request: FastifyRequest, course: string | undefined): Promise<LaunchServices> {
    const hub = fastify.scores.hub
    if (hub === undefined) throw new ScoresOff()
    const header = request.headers.authorization
    const token = header === undefined ? undefined : /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header)?.[1]
    if (token === undefined) throw new HubTokenMissing()
    const identity = await hub.identify(token)
    const launch = course !== undefined
      ? await launchServices.byUser(identity.username, course)
      : identity.serverName !== undefined && identity.serverName !== ''
        ? await launchServices.byServer(identity.username, identity.serverName)
        : await launchServices.latest(identity.username)
    const where = course !== undefined ? `the course ${course}` : 'this server\'s course'
    if (launch === undefined) throw new RosterNoLaunch(where)
    if (launch.role !== 'staff') throw new RosterNotStaff(where)
    return launch
  }

  fastify.post('/rosters/sync', {
    schema: { body: Type.Optional(CourseBody), response: { 202: Type.Object({ state: Type.Literal('started'), course: Type.String(), statusUrl: Type.String() }) } }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const launch = await staffLaunch(request, request.body?.course)
    try {
      await fastify.rosters.start(launch.issuer, launch.contextId, 'staff')
    } catch (err) {
      const retryAfter = (err as { retryAfter?: unknown }).retryAfter
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
      throw err
    }
    request.log.info({ issuer: launch.issuer, course: launch.contextId, by: launch.username }, 'roster sync started by staff')
    return await reply.code(202).send({ state: 'started', course: launch.contextId, statusUrl: `/rosters/status?course=${encodeURIComponent(launch.contextId)}` })
  })

  fastify.get('/rosters/status', {
    schema: { querystring: CourseBody, response: { 200: Outcome } }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const launch = await staffLaunch(request, request.query.course)
    const outcome = await fastify.rosters.outcome(launch.issuer, launch.contextId)
    if (outcome === undefined) throw new RosterNeverSynced()
    return outcome
  })
}

export default rostersRoutes
