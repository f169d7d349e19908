import { createHash } from 'node:crypto'
import { LTI_CLAIM, serverNameFor, type LaunchSummary, type NameSpace } from '@ltilaunch/claims'
import type { Store } from '@ltilaunch/service-kit'
import type { Platform } from '../config.js'
import { serviceUrlAllowed } from './service-urls.js'

/** A launch's Assignment and Grade Services claim, as far as its URLs passed the platform's host check. */
export interface GradeService {
  /** The line item of the launched resource link, when the platform made one. */
  lineitem?: string
  /** The course's line items (find or create one per assignment). */
  lineitems?: string
  /** The scopes the platform grants this tool in the course. */
  scope: string[]
}

/** A launch's Names and Role Provisioning Services claim. */
export interface RosterService {
  contextMembershipsUrl: string
  serviceVersions: string[]
}

/**
 * What the tool keeps of a user's latest launch in a course, to call the
 * platform's services for them later: who (issuer, sub, hub username),
 * where (the course and the server named after it), the role, and the
 * service endpoints. Kept LAUNCH_SERVICES_TTL seconds, renewed by each launch.
 */
export interface LaunchServices {
  issuer: string
  clientId: string
  deploymentId: string
  sub: string
  username: string
  contextId: string
  contextLabel?: string
  /** The hub server the broker names after this course (serverNameFor, named servers on). */
  serverName: string
  role: 'staff' | 'learner'
  namespace: NameSpace
  resourceLinkId?: string
  ags?: GradeService
  nrps?: RosterService
  /** Epoch ms of the launch. */
  launchedAt: number
}

/** What the tool keeps of a course's latest launch (any member's): its services, not a person. */
export type CourseServices = Pick<LaunchServices, 'issuer' | 'clientId' | 'deploymentId' | 'contextId' | 'contextLabel' | 'namespace' | 'ags' | 'nrps' | 'launchedAt'>

export interface LaunchFactsForServices {
  issuer: string
  clientId: string
  username: string
  role: 'staff' | 'learner'
  namespace: NameSpace
}

/** URL problems found while reading the claims (logged, never fatal to a launch). */
export interface DroppedUrl {
  claim: 'ags' | 'nrps'
  field: string
}

function record (value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

/**
 * The services of a launch, from its verified claims. A URL that is not
 * http(s) or not on a host of the platform is dropped (and reported), as if
 * the platform had not sent it. Undefined without a course or a sub.
 */
export function readLaunchServices (claims: Record<string, unknown>, summary: LaunchSummary, facts: LaunchFactsForServices, platform: Platform, dropped: DroppedUrl[] = []): LaunchServices | undefined {
  const sub = summary.user.sub
  const context = summary.context
  if (sub === undefined || sub === '' || context === undefined) return undefined
  const services: LaunchServices = {
    issuer: facts.issuer,
    clientId: facts.clientId,
    deploymentId: summary.deploymentId,
    sub,
    username: facts.username,
    contextId: context.id,
    serverName: serverNameFor(context, true, facts.namespace),
    role: facts.role,
    namespace: { prefix: facts.namespace.prefix, suffix: facts.namespace.suffix },
    launchedAt: Date.now()
  }
  if (context.label !== undefined) services.contextLabel = context.label
  if (summary.resourceLink !== undefined) services.resourceLinkId = summary.resourceLink.id
  const agsClaim = record(claims[LTI_CLAIM.agsEndpoint])
  if (agsClaim !== undefined) {
    const ags: GradeService = { scope: Array.isArray(agsClaim.scope) ? agsClaim.scope.filter((s): s is string => typeof s === 'string') : [] }
    for (const field of ['lineitem', 'lineitems'] as const) {
      const url = agsClaim[field]
      if (url === undefined || url === null || url === '') continue
      if (serviceUrlAllowed(url, platform)) ags[field] = url
      else dropped.push({ claim: 'ags', field })
    }
    if (ags.lineitem !== undefined || ags.lineitems !== undefined) services.ags = ags
  }
  const nrpsClaim = record(claims[LTI_CLAIM.nrps])
  if (nrpsClaim !== undefined && nrpsClaim.context_memberships_url !== undefined) {
    if (serviceUrlAllowed(nrpsClaim.context_memberships_url, platform)) {
      const versions = Array.isArray(nrpsClaim.service_versions) ? nrpsClaim.service_versions.map(String) : []
      services.nrps = { contextMembershipsUrl: nrpsClaim.context_memberships_url, serviceVersions: versions }
    } else {
      dropped.push({ claim: 'nrps', field: 'context_memberships_url' })
    }
  }
  return services
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('base64url')

/**
 * The launches' services in the store, reachable by the person (issuer, sub)
 * and course, by hub username and course, by hub username and server name,
 * and per course (issuer, context).
 */
export class LaunchServicesRepository {
  readonly #store: Store
  readonly #ttl: number

  constructor (store: Store, ttlSeconds: number) {
    this.#store = store
    this.#ttl = ttlSeconds
  }

  async save (services: LaunchServices): Promise<void> {
    const course: CourseServices = {
      issuer: services.issuer,
      clientId: services.clientId,
      deploymentId: services.deploymentId,
      contextId: services.contextId,
      namespace: services.namespace,
      launchedAt: services.launchedAt
    }
    if (services.contextLabel !== undefined) course.contextLabel = services.contextLabel
    if (services.nrps !== undefined) course.nrps = services.nrps
    // The course's line items and scope, not the launched link's own line item.
    if (services.ags?.lineitems !== undefined) course.ags = { lineitems: services.ags.lineitems, scope: services.ags.scope }
    const ttlSeconds = this.#ttl
    const writes: Array<{ op: 'set', key: string, value: unknown, ttlSeconds: number }> = [
      { op: 'set', key: personKey(services.issuer, services.sub, services.contextId), value: services, ttlSeconds },
      { op: 'set', key: userKey(services.username, services.contextId), value: services, ttlSeconds },
      { op: 'set', key: serverKey(services.username, services.serverName), value: services, ttlSeconds },
      { op: 'set', key: latestKey(services.username), value: services, ttlSeconds }
    ]
    // A launch without services must not erase what an earlier launch of the course told us.
    if (course.nrps !== undefined || course.ags !== undefined) {
      const earlier = await this.course(services.issuer, services.contextId)
      writes.push({ op: 'set', key: courseKey(services.issuer, services.contextId), value: { ...earlier, ...course }, ttlSeconds })
    }
    await this.#store.batch(writes)
  }

  /** The latest launch of a person (issuer, sub) in a course. */
  async byPerson (issuer: string, sub: string, contextId: string): Promise<LaunchServices | undefined> {
    return await this.#store.get<LaunchServices>(personKey(issuer, sub, contextId))
  }

  /** The latest launch of a hub user in a course (a hub username belongs to one issuer). */
  async byUser (username: string, contextId: string): Promise<LaunchServices | undefined> {
    return await this.#store.get<LaunchServices>(userKey(username, contextId))
  }

  /** The latest launch of a hub user whose course's server has this name. */
  async byServer (username: string, serverName: string): Promise<LaunchServices | undefined> {
    return await this.#store.get<LaunchServices>(serverKey(username, serverName))
  }

  /** A hub user's latest launch in any course (for a hub without named servers: its one server). */
  async latest (username: string): Promise<LaunchServices | undefined> {
    return await this.#store.get<LaunchServices>(latestKey(username))
  }

  /** The latest services any launch of the course carried (memberships URL, line items). */
  async course (issuer: string, contextId: string): Promise<CourseServices | undefined> {
    return await this.#store.get<CourseServices>(courseKey(issuer, contextId))
  }
}

function personKey (issuer: string, sub: string, contextId: string): string {
  return `services:person:${hash(issuer, sub, contextId)}`
}
function userKey (username: string, contextId: string): string {
  return `services:user:${hash(username.toLowerCase(), contextId)}`
}
function serverKey (username: string, serverName: string): string {
  return `services:server:${hash(username.toLowerCase(), serverName)}`
}
function latestKey (username: string): string {
  return `services:latest:${hash(username.toLowerCase())}`
}
function courseKey (issuer: string, contextId: string): string {
  return `services:course:${hash(issuer, contextId)}`
}
