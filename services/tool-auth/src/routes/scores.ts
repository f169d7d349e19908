import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ACTIVITY_PROGRESS, SERVICE_SCOPE, GRADING_PROGRESS } from '@ltilaunch/claims'
import { StoreUnavailableError } from '@ltilaunch/service-kit'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import {
  HubTokenMissing, PlatformServicesOff, PlatformUnavailable, ScoreCourseMismatch, ScoreInvalid, ScoreNoGradeService,
  ScoreNoLaunch, ScoreNotFromServer, ScoreNotStaff, ScoresOff, ScoreUnknown, ScoreUserUnknown
} from '../errors.js'
import type { HubIdentity } from '../lib/hub-identity.js'
import type { LaunchServices } from '../lib/launch-services.js'
import { scoreKey, scoreTokenScopes, type ScoreRecord, type ScoreTarget } from '../lib/scores.js'

// Numbers as numbers or numeric strings: the schema's type coercion reads "7.5" as 7.5.
const ScoreRequestSchema = Type.Object({
  scoreGiven: Type.Number({ minimum: 0 }),
  scoreMaximum: Type.Number({ exclusiveMinimum: 0 }),
  activityProgress: Type.Optional(Type.Union(ACTIVITY_PROGRESS.map((value) => Type.Literal(value)))),
  gradingProgress: Type.Optional(Type.Union(GRADING_PROGRESS.map((value) => Type.Literal(value)))),
  timestamp: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  comment: Type.Optional(Type.String({ maxLength: 4096 })),
  assignment: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  assignmentLabel: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  course: Type.Optional(Type.String({ minLength: 1, maxLength: 255 }))
})

const ScoreStateSchema = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed')]),
  url: Type.String(),
  attempts: Type.Integer(),
  lastError: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  sentAt: Type.Optional(Type.String()),
  user: Type.String(),
  course: Type.String(),
  assignment: Type.Optional(Type.String()),
  scoreGiven: Type.Number(),
  scoreMaximum: Type.Number()
})

const ScoreIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }) })

/**
 * The scores API for notebooks: a running server sends a score with its own
 * token (JUPYTERHUB_API_TOKEN); the tool checks it with the hub, finds the
 * user's launch for the server's course, and queues the score for the
 * platform's Assignment and Grade Services. The request and reply shapes are
 * in the README ("Scores from notebooks").
 */
const scoresRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, launchServices, platforms, platformTokens } = fastify

  async function caller (request: FastifyRequest): Promise<HubIdentity> {
    const hub = fastify.scores.hub
    if (hub === undefined) throw new ScoresOff()
    const header = request.headers.authorization
    const token = header === undefined ? undefined : /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header)?.[1]
    if (token === undefined) throw new HubTokenMissing()
    return await hub.identify(token)
  }

  const stateUrl = (id: string): string => `${config.PUBLIC_URL?.replace(/\/+$/, '') ?? ''}/scores/${id}`

  function view (record: ScoreRecord) {
    return {
      id: record.id,
      state: record.state,
      url: stateUrl(record.id),
      attempts: record.attempts,
      ...(record.lastError !== undefined ? { lastError: record.lastError } : {}),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      ...(record.sentAt !== undefined ? { sentAt: record.sentAt } : {}),
      user: record.target.username,
      course: record.target.contextId,
      ...(record.target.assignment !== undefined ? { assignment: record.target.assignment } : {}),
      scoreGiven: record.score.scoreGiven,
      scoreMaximum: record.score.scoreMaximum
    }
  }

  /** The sender's own launch for the course of the server the token belongs to. */
  async function senderLaunch (identity: HubIdentity, course: string | undefined): Promise<LaunchServices> {
    const serverName = identity.serverName
    if (serverName === undefined) throw new ScoreNotFromServer()
    if (serverName === '') {
      // The default server (a hub without named servers) is no one course's: the course named, else the latest launch.
      const launch = course !== undefined ? await launchServices.byUser(identity.username, course) : await launchServices.latest(identity.username)
      if (launch === undefined) throw new ScoreNoLaunch(course ?? 'your latest')
      return launch
    }
    const launch = await launchServices.byServer(identity.username, serverName)
    if (launch === undefined) {
      if (course !== undefined && (await launchServices.byUser(identity.username, course)) !== undefined) throw new ScoreCourseMismatch(`of server ${serverName}`, course)
      throw new ScoreNoLaunch(`server ${serverName}`)
    }
    if (course !== undefined && course !== launch.contextId) throw new ScoreCourseMismatch(launch.contextId, course)
    return launch
  }

  fastify.post('/scores', {
    config: { audit: 'tool.score.posted' },
    schema: { body: ScoreRequestSchema, response: { 202: ScoreStateSchema } }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const identity = await caller(request)
    const body = request.body
    const sender = await senderLaunch(identity, body.course)
    let learner = sender
    if (body.user !== undefined && body.user.toLowerCase() !== identity.username.toLowerCase()) {
      if (sender.role !== 'staff') throw new ScoreNotStaff()
      const named = await launchServices.byUser(body.user, sender.contextId)
      // A hub username belongs to one issuer; a launch of another platform's course of the same id is not this course.
      if (named === undefined || named.issuer !== sender.issuer) throw new ScoreUserUnknown(body.user)
      learner = named
    }

    if (!Number.isFinite(body.scoreGiven) || !Number.isFinite(body.scoreMaximum)) throw new ScoreInvalid('scoreGiven and scoreMaximum must be finite numbers')
    let timestamp = new Date().toISOString()
    if (body.timestamp !== undefined) {
      const parsed = Date.parse(body.timestamp)
      if (Number.isNaN(parsed) || !/^\d{4}-\d{2}-\d{2}T/.test(body.timestamp)) throw new ScoreInvalid('timestamp must be an ISO 8601 date and time')
      timestamp = new Date(parsed).toISOString()
    }

    const ags = learner.ags
    if (ags === undefined) throw new ScoreNoGradeService('the launch carried no Assignment and Grade Services claim')
    if (!ags.scope.includes(SERVICE_SCOPE.score)) throw new ScoreNoGradeService('the platform did not grant the tool the score scope in this course')
    const target: ScoreTarget = {
      issuer: learner.issuer,
      clientId: learner.clientId,
      contextId: learner.contextId,
      username: learner.username,
      sub: learner.sub,
      scope: ags.scope
    }
    if (body.assignment !== undefined) {
      const lineitems = ags.lineitems ?? (await launchServices.course(learner.issuer, learner.contextId))?.ags?.lineitems
      if (lineitems === undefined) throw new ScoreNoGradeService('the course\'s launch named no line items URL, where an assignment\'s line item is found')
      if (!ags.scope.includes(SERVICE_SCOPE.lineItem) && !ags.scope.includes(SERVICE_SCOPE.lineItemReadOnly)) {
        throw new ScoreNoGradeService('the platform did not grant the tool a line item scope, which finding an assignment\'s line item needs')
      }
      target.lineitems = lineitems
      target.assignment = body.assignment
      if (body.assignmentLabel !== undefined) target.assignmentLabel = body.assignmentLabel
    } else {
      if (ags.lineitem === undefined) throw new ScoreNoGradeService('the launched link has no line item; name an assignment')
      target.lineitem = ags.lineitem
    }

    // A platform that refuses the tool a token is shown now (422, with its words); one that is away is retried later.
    const platform = await platforms.get(target.issuer)
    if (platform.tokenUrl === undefined) throw new PlatformServicesOff(platform.issuer)
    try {
      await platformTokens.token({ platform, clientId: target.clientId, scopes: scoreTokenScopes(target) })
    } catch (err) {
      if (!(err instanceof PlatformUnavailable)) throw err
    }

    const now = new Date().toISOString()
    const record: ScoreRecord = {
      id: randomBytes(16).toString('base64url'),
      owner: identity.username.toLowerCase(),
      state: 'queued',
      attempts: 0,
      nextAttemptAt: 0,
      createdAt: now,
      updatedAt: now,
      target,
      score: {
        scoreGiven: body.scoreGiven,
        scoreMaximum: body.scoreMaximum,
        activityProgress: body.activityProgress ?? 'Completed',
        gradingProgress: body.gradingProgress ?? 'FullyGraded',
        timestamp,
        ...(body.comment !== undefined ? { comment: body.comment } : {})
      }
    }
    // The record first: an entry never points at nothing; a record without an entry is not answered 202.
    await fastify.scores.records.save(record)
    try {
      await fastify.scores.queue.enqueue({ scoreId: record.id })
    } catch (err) {
      // Not queued, so not accepted: 503 with Retry-After, and no record that would stay "queued".
      await fastify.store.delete(scoreKey(record.id)).catch(() => {})
      throw new StoreUnavailableError(`the score queue: ${(err as Error).message}`)
    }
    request.log.info({ score: record.id, issuer: target.issuer, user: target.username, by: identity.username, assignment: target.assignment }, 'score queued')
    request.audit({
      type: 'tool.score.posted',
      outcome: 'success',
      actor: { issuer: sender.issuer, sub: sender.sub, username: identity.username, role: sender.role },
      target: { issuer: target.issuer, client_id: target.clientId, context_id: target.contextId, username: target.username }
    })
    return await reply.code(202).header('location', stateUrl(record.id)).send(view(record))
  })

  fastify.get('/scores/:id', {
    schema: { params: ScoreIdParams, response: { 200: ScoreStateSchema } }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const identity = await caller(request)
    const record = await fastify.scores.records.get(request.params.id)
    if (record === undefined || record.owner !== identity.username.toLowerCase()) throw new ScoreUnknown()
    return view(record)
  })
}

export default scoresRoutes
