import { CUSTOM_KEY_MAX_LENGTH, CUSTOM_MAX_PARAMS, CUSTOM_VALUE_MAX_LENGTH } from '@ltilaunch/claims'
import { ErrorReplySchema, maskedPathLogSerializers } from '@ltilaunch/service-kit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { apiKeyMatches } from '../../lib/api-keys.js'
import { randomToken } from '../../lib/csrf.js'
import { checkLaunchUsernames, deliverableLaunchClaims, type LaunchInput, type Launcher } from '../../lib/launch.js'
import { ApiUnauthorized, LaunchLinkInvalid, UnknownDeployment, UnknownTool } from '../../errors.js'

const Id = Type.String({ minLength: 1, maxLength: 255 })
const Text = Type.String({ maxLength: 1024 })

const LaunchRequestSchema = Type.Object({
  user: Type.Object({
    /** The host site's own, stable id for the person. */
    id: Id,
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    name: Type.Optional(Text),
    given_name: Type.Optional(Text),
    family_name: Type.Optional(Text),
    email: Type.Optional(Text),
    locale: Type.Optional(Type.String({ maxLength: 35 })),
    /** Roles in this context (and institution/system roles): Learner, Instructor, ... or full URIs. */
    roles: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 64 })
  }, { additionalProperties: false }),
  client_id: Id,
  deployment_id: Type.Optional(Id),
  context: Type.Optional(Type.Object({ id: Id, label: Type.Optional(Text), title: Type.Optional(Text) }, { additionalProperties: false })),
  resource_link: Type.Object({ id: Id, title: Type.Optional(Text) }, { additionalProperties: false }),
  /**
   * Custom parameters for this launch; `image` and `course_name` are the ones
   * ltilaunch reads. Bounded by @ltilaunch/claims' limits, and as a whole
   * (with the registration's) by CUSTOM_MAX_BYTES, checked with the claims.
   */
  custom: Type.Optional(Type.Record(
    Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: CUSTOM_KEY_MAX_LENGTH }),
    Type.String({ maxLength: CUSTOM_VALUE_MAX_LENGTH }),
    { maxProperties: CUSTOM_MAX_PARAMS }
  )),
  return_url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 }))
}, { additionalProperties: false })

type LaunchRequest = Static<typeof LaunchRequestSchema>

const LaunchCreated = Type.Object({
  launchUrl: Type.String(),
  expiresAt: Type.String({ description: 'ISO 8601' })
})

// The one-time launch URL is a capability: keep it out of the log.
const ticketLogSerializers = maskedPathLogSerializers(/^\/launches\/[^/]+/, '/launches/[ticket]')

interface Ticket {
  request: LaunchRequest
}

const ticketKey = (ticket: string): string => `ticket:${ticket}`

/**
 * The launch API for host sites (server to server): the host says who
 * launches what, and gets a one-time URL to send the browser to. That URL
 * signs the browser in for this one launch and starts the OIDC flow.
 */
const launchApi: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, registry, sessions, launches, store } = fastify

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization ?? ''
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (match === null || !apiKeyMatches(match[1] as string, config.apiKeyHashes)) {
      const error = new ApiUnauthorized()
      if (config.apiKeyHashes.length === 0) (error as { hint?: string }).hint = 'No launch API key is configured: set PLATFORM_API_KEYS.'
      throw error
    }
  }

  /** The launch a request describes; throws the 4xx a host site can act on. */
  const launchInput = async (body: LaunchRequest): Promise<LaunchInput> => {
    const tool = await registry.tool(body.client_id)
    if (tool === undefined) throw new UnknownTool(body.client_id)
    if (body.deployment_id !== undefined && !tool.deploymentIds.includes(body.deployment_id)) {
      throw new UnknownDeployment(body.deployment_id, tool.clientId)
    }
    // Host-site ids live in their own namespace, apart from the demo users.
    const localId = `api:${body.user.id}`
    const user: Launcher = { id: localId, sub: registry.subjectFor(localId) }
    if (body.user.username !== undefined) user.username = body.user.username
    if (body.user.name !== undefined) user.name = body.user.name
    if (body.user.given_name !== undefined) user.givenName = body.user.given_name
    if (body.user.family_name !== undefined) user.familyName = body.user.family_name
    if (body.user.email !== undefined) user.email = body.user.email
    if (body.user.locale !== undefined) user.locale = body.user.locale
    const custom = { ...body.custom }
    const image = custom.image
    delete custom.image
    return {
      tool,
      deploymentId: body.deployment_id ?? tool.deploymentIds[0] as string,
      user,
      roles: body.user.roles,
      ...(body.context === undefined ? {} : { context: body.context }),
      resourceLink: body.resource_link,
      ...(image === undefined ? {} : { image }),
      custom,
      ...(body.return_url === undefined ? {} : { returnUrl: body.return_url })
    }
  }

  fastify.post('/api/v1/launches', {
    config: { audit: 'platform.launch_url' },
    onRequest: async (request, reply) => {
      reply.header('www-authenticate', 'Bearer')
      await authenticate(request)
    },
    schema: {
      body: LaunchRequestSchema,
      response: { 201: LaunchCreated, 401: ErrorReplySchema, 404: ErrorReplySchema, 422: ErrorReplySchema }
    }
  }, async (request, reply) => {
    reply.removeHeader('www-authenticate')
    const input = await launchInput(request.body)
    // Built now, so that a launch the tool (or the hub) would refuse is refused to the host, not to the browser.
    checkLaunchUsernames(input, deliverableLaunchClaims(fastify.ltiServices.withServices(input), registry.identity))
    const ticket = randomToken()
    await store.put(ticketKey(ticket), { request: request.body } satisfies Ticket, config.LAUNCH_URL_TTL)
    const expiresAt = new Date(Date.now() + config.LAUNCH_URL_TTL * 1000).toISOString()
    request.log.info({ clientId: input.tool.clientId }, 'launch URL issued')
    request.audit({ type: 'platform.launch_url', outcome: 'success', target: { client_id: input.tool.clientId } })
    return await reply.code(201).header('cache-control', 'no-store').send({ launchUrl: `${config.publicUrl}/launches/${ticket}`, expiresAt })
  })

  fastify.get('/launches/:ticket', {
    logSerializers: ticketLogSerializers,
    schema: { params: Type.Object({ ticket: Type.String({ minLength: 20, maxLength: 100 }) }) }
  }, async (request, reply) => {
    const ticket = await store.take<Ticket>(ticketKey(request.params.ticket))
    if (ticket === undefined) throw new LaunchLinkInvalid()
    const input = await launchInput(ticket.request)
    // A session good for this launch only: it cannot use the launch page.
    // It is written with the launch's message hint, in one round trip.
    const { session, write } = sessions.open(reply, { kind: 'launch', userId: input.user.id }, config.MESSAGE_HINT_TTL)
    return await launches.begin(reply, input, session.id, [write])
  })
}

export default launchApi
