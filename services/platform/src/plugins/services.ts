import { normalizeRoles, isContextRole, type ServiceScope } from '@ltilaunch/claims'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ServiceContextNotGranted, ServiceScopeMissing, ServiceTokenInvalid } from '../errors.js'
import type { LaunchInput } from '../lib/launch.js'
import {
  accessTokenKey, courseRosterMap, DEFAULT_SCORE_MAXIMUM, defaultLineItemId, lineItemsMap, serviceClaims, toolContextsMap,
  type AccessTokenRecord, type CourseMember, type LineItem, type RosterEntry, type ServiceContext
} from '../lib/services.js'

export type { CourseMember }

export interface LtiServices {
  /**
   * The access token of a service request, which must carry one of
   * `anyOf`: PLATFORM_SERVICE_TOKEN_INVALID (401) or
   * PLATFORM_SERVICE_SCOPE_MISSING (403) otherwise.
   */
  authenticate: (request: FastifyRequest, reply: FastifyReply, anyOf: readonly ServiceScope[]) => Promise<AccessTokenRecord>
  /** A course the tool was launched in; PLATFORM_SERVICE_CONTEXT_NOT_GRANTED (403) otherwise. */
  context: (clientId: string, courseId: string) => Promise<ServiceContext>
  /** The service claims of a launch (none without a course), to build its id_token with. */
  withServices: (input: LaunchInput) => LaunchInput
  /** Remembers a launch in a course: the course for the tool, the person for the roster, the link's default line item. */
  recordLaunch: (input: LaunchInput) => Promise<void>
  /** The members of a course, the users file's first. */
  members: (courseId: string) => Promise<CourseMember[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    ltiServices: LtiServices
  }
}

function bearer (header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
}

/** The LTI services' shared parts: access tokens, the courses a tool may reach, and course membership. */
export default fp(async function servicesPlugin (fastify) {
  const { store, registry, config } = fastify

  const services: LtiServices = {
    async authenticate (request, reply, anyOf) {
      const token = bearer(request.headers.authorization)
      const record = token === undefined ? undefined : await store.get<AccessTokenRecord>(accessTokenKey(token))
      if (record === undefined) {
        reply.header('www-authenticate', 'Bearer error="invalid_token"')
        throw new ServiceTokenInvalid()
      }
      if (!anyOf.some((scope) => record.scopes.includes(scope))) {
        reply.header('www-authenticate', `Bearer error="insufficient_scope", scope="${anyOf.join(' ')}"`)
        throw new ServiceScopeMissing(anyOf.join(' or '))
      }
      return record
    },

    async context (clientId, courseId) {
      const context = await store.mapGet<ServiceContext>(toolContextsMap(clientId), courseId)
      if (context === undefined) throw new ServiceContextNotGranted(courseId)
      return context
    },

    withServices (input) {
      if (input.context === undefined || input.tool.scopes.length === 0) return input
      return { ...input, services: serviceClaims(input.tool, config.publicUrl, input.context.id, input.resourceLink.id) }
    },

    async recordLaunch (input) {
      const { tool, context, user, resourceLink } = input
      if (context === undefined || tool.scopes.length === 0) return
      const entry: RosterEntry = {
        sub: user.sub,
        localId: user.id,
        roles: normalizeRoles(input.roles).filter(isContextRole),
        lastLaunchAt: new Date().toISOString()
      }
      if (user.name !== undefined) entry.name = user.name
      if (user.givenName !== undefined) entry.givenName = user.givenName
      if (user.familyName !== undefined) entry.familyName = user.familyName
      if (user.email !== undefined) entry.email = user.email
      const known: ServiceContext = { id: context.id }
      if (context.label !== undefined) known.label = context.label
      if (context.title !== undefined) known.title = context.title
      const lineItemId = defaultLineItemId(tool.clientId, resourceLink.id)
      const [existing] = await Promise.all([
        store.mapGet<LineItem>(lineItemsMap(context.id), lineItemId),
        store.mapSet(toolContextsMap(tool.clientId), context.id, known),
        store.mapSet(courseRosterMap(context.id), user.sub, entry)
      ])
      // Made on the link's first launch; the same id on every replica, so a race writes the same item.
      if (existing === undefined) {
        const item: LineItem = {
          id: lineItemId,
          clientId: tool.clientId,
          label: resourceLink.title ?? context.title ?? 'Grade',
          scoreMaximum: DEFAULT_SCORE_MAXIMUM,
          resourceLinkId: resourceLink.id,
          createdAt: new Date().toISOString()
        }
        await store.mapSet(lineItemsMap(context.id), lineItemId, item)
      }
    },

    async members (courseId) {
      const members = new Map<string, CourseMember>()
      for (const user of config.directory.users) {
        const roles = user.courses[courseId]
        if (roles === undefined) continue
        const sub = user.sub ?? registry.subjectFor(user.id)
        const member: CourseMember = { sub, localId: user.id, roles: normalizeRoles(roles) }
        if (user.name !== undefined) member.name = user.name
        if (user.givenName !== undefined) member.givenName = user.givenName
        if (user.familyName !== undefined) member.familyName = user.familyName
        if (user.email !== undefined) member.email = user.email
        members.set(sub, member)
      }
      const launched = Object.values(await store.mapAll<RosterEntry>(courseRosterMap(courseId)))
        .sort((a, b) => a.localId.localeCompare(b.localId))
      for (const entry of launched) {
        if (members.has(entry.sub)) continue
        const { lastLaunchAt: _at, ...member } = entry
        members.set(entry.sub, member)
      }
      return [...members.values()]
    }
  }
  fastify.decorate('ltiServices', services)
}, { name: 'platform-services', fastify: '5.x', dependencies: ['platform-registry', 'ltilaunch-store'] })
