import { createHash } from 'node:crypto'
import { ROSTER_BATCH_MAX, type RosterMember, type RosterReply, type RosterRequest } from '@ltilaunch/claims'
import type { Store } from '@ltilaunch/service-kit'
import type { Platform, ToolAuthConfig } from '../../config.js'
import { RosterPlatformInvalid, RosterPlatformRefused, RosterPlatformUnavailable } from '../../errors.js'
import type { PlatformTokens } from '../platform-token.js'
import { bindings, byOwnership, deriveMembers, type SkipReason } from './members.js'
import { NRPS_SCOPE, NrpsError, readMemberships } from './nrps.js'

/** Where a course's roster is read: from the NRPS claim of a launch in it. */
export interface RosterCourse {
  issuer: string
  clientId: string
  deploymentId?: string
  contextId: string
  membershipsUrl: string
}

export type RosterTrigger = 'launch' | 'operator' | 'staff'

/** What one sync did; kept in the store for the operator and the course's staff, and logged. */
export interface RosterOutcome {
  issuer: string
  contextId: string
  trigger: RosterTrigger
  startedAt: string
  finishedAt: string
  ok: boolean
  /** NRPS pages and members read. */
  pages: number
  members: number
  created: number
  grouped: number
  unchanged: number
  removed: number
  inactive: number
  skipped: Record<SkipReason, number>
  /** The first few names bound to another person (never shared; the operator resolves them). */
  taken: string[]
  error?: { code: string, message: string }
}

/** Platform access tokens (lib/platform-token.ts): cached, and forgotten when the platform refuses one. */
export type PlatformTokenSource = Pick<PlatformTokens, 'token' | 'forget'>

export interface SyncDependencies {
  config: ToolAuthConfig
  store: Store
  platform: Platform
  tokens: PlatformTokenSource
  applyRoster: (roster: RosterRequest) => Promise<RosterReply>
  signal?: AbortSignal
}

/** How many taken names an outcome lists. */
const TAKEN_SHOWN = 20

/** The store key part of a course: a hash, so that long context ids make short keys. */
export function courseKey (issuer: string, contextId: string): string {
  return createHash('sha256').update(`${issuer}\n${contextId}`).digest('base64url')
}

export function emptyOutcome (course: Pick<RosterCourse, 'issuer' | 'contextId'>, trigger: RosterTrigger): RosterOutcome {
  const now = new Date().toISOString()
  return {
    issuer: course.issuer,
    contextId: course.contextId,
    trigger,
    startedAt: now,
    finishedAt: now,
    ok: false,
    pages: 0,
    members: 0,
    created: 0,
    grouped: 0,
    unchanged: 0,
    removed: 0,
    inactive: 0,
    skipped: { privacy: 0, no_user_id: 0, refused: 0, taken: 0 },
    taken: []
  }
}

/**
 * One sync of a course: reads every NRPS page, derives and binds each
 * member's hub name as a launch would, and hands each page's members to
 * the broker (in batches it accepts). Fills `outcome` as it goes, so that a
 * failure part way still says what was done; throws the failure.
 */
export async function syncCourse (course: RosterCourse, deps: SyncDependencies, outcome: RosterOutcome): Promise<void> {
  const { platform } = deps
  const request = { platform, clientId: course.clientId, scopes: [NRPS_SCOPE] }
  try {
    await readAndApply(course, deps, outcome, await deps.tokens.token(request))
  } catch (err) {
    // A cached token the platform no longer takes (revoked, rotated keys): once more with a fresh one.
    if (!(err instanceof NrpsError && err.status === 401 && outcome.pages === 0)) throw translate(err)
    await deps.tokens.forget(request)
    try {
      await readAndApply(course, deps, outcome, await deps.tokens.token(request))
    } catch (again) {
      throw translate(again)
    }
  }
}

async function readAndApply (course: RosterCourse, deps: SyncDependencies, outcome: RosterOutcome, token: string): Promise<void> {
  const { config, store, platform } = deps
  const namespace = platform.namespace.prefix !== '' || platform.namespace.suffix !== ''
    ? { namespace: { prefix: platform.namespace.prefix, suffix: platform.namespace.suffix } }
    : {}
  for await (const page of readMemberships(course.membershipsUrl, {
    token,
    timeoutMs: config.NRPS_TIMEOUT_MS,
    maxPages: config.ROSTER_MAX_PAGES,
    maxPageBytes: 16 * 1024 * 1024,
    ...(deps.signal === undefined ? {} : { signal: deps.signal })
  })) {
    outcome.pages++
    outcome.members += page.members.length
    const derived = deriveMembers(page.members, platform, config)
    for (const skip of derived.skipped) outcome.skipped[skip.reason]++
    const owners = derived.members.length === 0 ? [] : await store.batch(bindings(derived.members))
    const { own, taken } = byOwnership(derived.members, owners)
    outcome.skipped.taken += taken.length
    for (const { identity } of taken) if (outcome.taken.length < TAKEN_SHOWN) outcome.taken.push(identity.username)
    for (let at = 0; at < own.length; at += ROSTER_BATCH_MAX) {
      const members: RosterMember[] = own.slice(at, at + ROSTER_BATCH_MAX).map((derived) => derived.member)
      const reply = await deps.applyRoster({ course: { id: course.contextId }, ...namespace, members })
      outcome.created += reply.created
      outcome.grouped += reply.grouped
      outcome.unchanged += reply.unchanged
      outcome.removed += reply.removed
      outcome.inactive += reply.inactive
    }
  }
}

/** A failure to read the platform, as the error an outcome records. */
function translate (err: unknown): unknown {
  if (!(err instanceof NrpsError)) return err
  if (err.kind === 'refused') return new RosterPlatformRefused(err.message)
  if (err.kind === 'unavailable') return new RosterPlatformUnavailable(err.message)
  return new RosterPlatformInvalid(err.message)
}
