/**
 * The LTI services the platform offers a tool it has launched in a course:
 * AGS 2.0 line items, scores and results, and NRPS 2.0 memberships. What is
 * kept (durable maps in the store, no TTL: grades must not expire), under
 * which names, at which URLs, and the checks a line item or a score passes.
 */
import { createHash } from 'node:crypto'
import {
  ACTIVITY_PROGRESS, AGS_SCOPES, GRADING_PROGRESS, SERVICE_SCOPE, type ActivityProgress, type BuildLaunchInput, type GradingProgress, type ServiceScope
} from '@ltilaunch/claims'
import type { Registration } from './registrations.js'

/* ------------------------------------------------------------ storage --- */

/** The courses a tool was launched in (the only ones whose services it may use), by course id. */
export const toolContextsMap = (clientId: string): string => `svc:contexts:${clientId}`
/** Who launched in a course, by sub: the course's members besides the users file's. */
export const courseRosterMap = (courseId: string): string => `svc:roster:${courseId}`
/** A course's line items, by id (each belongs to one tool). */
export const lineItemsMap = (courseId: string): string => `svc:lineitems:${courseId}`
/** A course's scores, the latest per line item and user: field `<lineItemId> <sub>`. */
export const scoresMap = (courseId: string): string => `svc:scores:${courseId}`
export const scoreField = (lineItemId: string, sub: string): string => `${lineItemId} ${sub}`
/** An access token's record, under the SHA-256 of the token (the token itself is never stored). */
export const accessTokenKey = (token: string): string => `svc:token:${createHash('sha256').update(token).digest('hex')}`
/** A client assertion's jti, taken once until the assertion expires. */
export const assertionJtiKey = (clientId: string, jti: string): string => `svc:jti:${clientId}:${createHash('sha256').update(jti).digest('hex')}`

/** A course as the services name it (from the users file, or as a host site's launch described it). */
export interface ServiceContext {
  id: string
  label?: string
  title?: string
}

/** A member of a course: a user of the users file with a role in it, or someone who launched in it from a host site. */
export interface CourseMember {
  sub: string
  /** The platform's own id of the person (`api:<host id>` for a host site's user). */
  localId: string
  /** Their roles in the course, full URIs. */
  roles: string[]
  name?: string
  givenName?: string
  familyName?: string
  email?: string
}

/** A person who launched in a course, as the course's roster keeps them: enough for the roster and the gradebook. */
export interface RosterEntry extends CourseMember {
  lastLaunchAt: string
}

export interface AccessTokenRecord {
  clientId: string
  scopes: ServiceScope[]
}

export interface LineItem {
  id: string
  clientId: string
  label: string
  scoreMaximum: number
  resourceLinkId?: string
  resourceId?: string
  tag?: string
  startDateTime?: string
  endDateTime?: string
  gradesReleased?: boolean
  createdAt: string
}

export interface ScoreRecord {
  lineItemId: string
  clientId: string
  /** The sub of the person scored. */
  userId: string
  scoreGiven?: number
  scoreMaximum?: number
  comment?: string
  activityProgress: ActivityProgress
  gradingProgress: GradingProgress
  timestamp: string
  receivedAt: string
}

/* --------------------------------------------------------------- URLs --- */

/** The service URLs of a course, under the platform's public URL. */
export function serviceUrls (publicUrl: string, courseId: string): { lineItems: string, memberships: string, lineItem: (id: string) => string } {
  const base = `${publicUrl}/lti/courses/${encodeURIComponent(courseId)}`
  return {
    lineItems: `${base}/lineitems`,
    memberships: `${base}/memberships`,
    lineItem: (id: string) => `${base}/lineitems/${encodeURIComponent(id)}`
  }
}

/** The id of a resource link's default line item: the same on every replica and every launch. */
export function defaultLineItemId (clientId: string, resourceLinkId: string): string {
  return `rl-${createHash('sha256').update(`${clientId}\n${resourceLinkId}`).digest('base64url').slice(0, 22)}`
}

/** The maximum of a default line item: scores arrive on the tool's own scale and are kept as sent. */
export const DEFAULT_SCORE_MAXIMUM = 100

/** The AGS and NRPS claims of a launch in a course, as far as the tool's registration allows them. */
export function serviceClaims (tool: Registration, publicUrl: string, courseId: string, resourceLinkId: string): Pick<BuildLaunchInput, 'ags' | 'nrps'> {
  const urls = serviceUrls(publicUrl, courseId)
  const agsScopes = AGS_SCOPES.filter((scope) => tool.scopes.includes(scope))
  const claims: Pick<BuildLaunchInput, 'ags' | 'nrps'> = {}
  if (agsScopes.length > 0) claims.ags = { scope: agsScopes, lineItems: urls.lineItems, lineItem: urls.lineItem(defaultLineItemId(tool.clientId, resourceLinkId)) }
  if (tool.scopes.includes(SERVICE_SCOPE.contextMembershipReadOnly)) claims.nrps = { contextMembershipsUrl: urls.memberships }
  return claims
}

/* ------------------------------------------------------------- checks --- */

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/

/** A number as LMSs and tools send it: a JSON number or a numeric string. */
function numberOf (value: unknown): number | undefined {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return undefined
}

const text = (value: unknown, max: number): string | undefined => typeof value === 'string' && value.length <= max ? value : undefined

/**
 * An ISO 8601 date-time (RFC 3339 and the forms tools send: `+0000`,
 * microseconds), or undefined. One without a zone is read as UTC (Python's
 * `utcnow().isoformat()` writes none) and kept with a `Z`.
 */
export function isoDateTime (value: unknown): string | undefined {
  if (typeof value !== 'string' || !ISO_8601.test(value)) return undefined
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`
  return Number.isNaN(Date.parse(zoned)) ? undefined : zoned
}

export type Checked<T> = { ok: true, value: T } | { ok: false, problem: string }

/** A line item as a tool sends it (POST, PUT): label, scoreMaximum > 0, and the optional fields, each checked. */
export function checkLineItem (body: Record<string, unknown>): Checked<Omit<LineItem, 'id' | 'clientId' | 'createdAt'>> {
  const label = body.label
  if (typeof label !== 'string' || label.trim() === '' || label.length > 1024) return { ok: false, problem: 'label must be a non-empty string (at most 1024 characters).' }
  const scoreMaximum = numberOf(body.scoreMaximum)
  if (scoreMaximum === undefined || !(scoreMaximum > 0) || !Number.isFinite(scoreMaximum)) return { ok: false, problem: 'scoreMaximum must be a number greater than 0.' }
  const item: Omit<LineItem, 'id' | 'clientId' | 'createdAt'> = { label, scoreMaximum }
  for (const name of ['resourceLinkId', 'resourceId', 'tag'] as const) {
    if (body[name] === undefined || body[name] === null) continue
    const value = text(body[name], 255)
    if (value === undefined) return { ok: false, problem: `${name} must be a string of at most 255 characters.` }
    item[name] = value
  }
  for (const name of ['startDateTime', 'endDateTime'] as const) {
    if (body[name] === undefined || body[name] === null) continue
    const value = isoDateTime(body[name])
    if (value === undefined) return { ok: false, problem: `${name} must be an ISO 8601 date and time.` }
    item[name] = value
  }
  if (body.gradesReleased !== undefined) {
    if (typeof body.gradesReleased !== 'boolean') return { ok: false, problem: 'gradesReleased must be true or false.' }
    item.gradesReleased = body.gradesReleased
  }
  return { ok: true, value: item }
}

/** A Score (AGS 2.0 §3.4): userId, timestamp, both progresses, and a scoreGiven ≥ 0 with a scoreMaximum > 0. */
export function checkScore (body: Record<string, unknown>): Checked<Omit<ScoreRecord, 'lineItemId' | 'clientId' | 'receivedAt'>> {
  const userId = typeof body.userId === 'number' ? String(body.userId) : body.userId
  if (typeof userId !== 'string' || userId === '' || userId.length > 255) return { ok: false, problem: 'userId must be the user\'s LTI user id (the sub of their launch).' }
  const timestamp = isoDateTime(body.timestamp)
  if (timestamp === undefined) return { ok: false, problem: 'timestamp must be an ISO 8601 date and time (such as 2026-12-02T12:00:00.000Z).' }
  if (!(ACTIVITY_PROGRESS as readonly unknown[]).includes(body.activityProgress)) return { ok: false, problem: `activityProgress must be one of ${ACTIVITY_PROGRESS.join(', ')}.` }
  if (!(GRADING_PROGRESS as readonly unknown[]).includes(body.gradingProgress)) return { ok: false, problem: `gradingProgress must be one of ${GRADING_PROGRESS.join(', ')}.` }
  const score: Omit<ScoreRecord, 'lineItemId' | 'clientId' | 'receivedAt'> = {
    userId,
    timestamp,
    activityProgress: body.activityProgress as ActivityProgress,
    gradingProgress: body.gradingProgress as GradingProgress
  }
  if (body.scoreGiven !== undefined && body.scoreGiven !== null) {
    const given = numberOf(body.scoreGiven)
    if (given === undefined || !Number.isFinite(given) || given < 0) return { ok: false, problem: 'scoreGiven must be a number of 0 or more.' }
    const maximum = numberOf(body.scoreMaximum)
    if (maximum === undefined || !Number.isFinite(maximum) || !(maximum > 0)) return { ok: false, problem: 'scoreMaximum must be a number greater than 0 when scoreGiven is given.' }
    score.scoreGiven = given
    score.scoreMaximum = maximum
  }
  if (body.comment !== undefined && body.comment !== null) {
    const comment = text(body.comment, 4096)
    if (comment === undefined) return { ok: false, problem: 'comment must be a string of at most 4096 characters.' }
    score.comment = comment
  }
  return { ok: true, value: score }
}

/** The media type of a request without its parameters, lower case. */
export function mediaTypeOf (header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}
