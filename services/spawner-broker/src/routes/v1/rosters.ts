import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { hubUsernameProblem, RosterReplySchema, RosterRequestSchema } from '@ltilaunch/claims'
import { ErrorReplySchema } from '@ltilaunch/service-kit'
import { HubError } from '../../drivers/hub-client.js'
import { RosterHubRefused, RosterHubUnavailable, RosterNeedsHub, RosterUsernameRefused } from '../../errors.js'
import { applyRoster } from '../../rosters/hub-roster.js'

/** Where a long name is cut in a refusal. */
const SHOWN = 80

/**
 * The broker API tool-auth calls with a course roster (NRPS): hub users
 * made, course and role groups set. Idempotent, so a retried or repeated
 * roster is harmless; no Idempotency-Key is needed.
 */
const rostersApi: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/v1/rosters', {
    onRequest: fastify.requireServiceToken,
    // A course of ROSTER_BATCH_MAX members with long names stays well under this.
    bodyLimit: 1024 * 1024,
    schema: {
      body: RosterRequestSchema,
      response: { 200: RosterReplySchema, 400: ErrorReplySchema, 401: ErrorReplySchema, 409: ErrorReplySchema, 502: ErrorReplySchema, 503: ErrorReplySchema }
    }
  }, async (request) => {
    const hub = fastify.rosterHub
    if (hub === undefined) throw new RosterNeedsHub()
    const roster = request.body
    for (const member of roster.members) {
      const problem = hubUsernameProblem(member.username)
      const shown = member.username.length > SHOWN ? `${member.username.slice(0, SHOWN)}…` : member.username
      if (problem !== undefined) throw new RosterUsernameRefused(JSON.stringify(shown), problem)
    }
    const { HUB_STAFF_GROUP: staff, HUB_LEARNER_GROUP: learner } = fastify.config
    try {
      const outcome = await applyRoster(hub, { staff, learner }, roster)
      request.log.info({ group: outcome.group, created: outcome.created, grouped: outcome.grouped, unchanged: outcome.unchanged, removed: outcome.removed }, 'roster applied')
      return outcome
    } catch (err) {
      if (!(err instanceof HubError)) throw err
      request.log.warn({ status: err.status, reason: err.message }, 'roster not applied')
      if (err.status === undefined) throw new RosterHubUnavailable(err.message)
      throw new RosterHubRefused(err.message)
    }
  })
}

export default rostersApi
