import { LTI_CLAIM, usernameFromClaims, UsernameError, type RosterMember } from '@ltilaunch/claims'
import type { StoreOperation } from '@ltilaunch/service-kit'
import type { Platform, ToolAuthConfig } from '../../config.js'
import { UsernameMissing, UsernameRefused } from '../../errors.js'
import { bindUsername, launchIdentity, ownsUsername, type LaunchIdentity } from '../identity.js'
import type { NrpsMember } from './nrps.js'

/** Why a member of the platform's roster has no place in the hub's. */
export type SkipReason = 'privacy' | 'no_user_id' | 'refused' | 'taken'

/** A member whose hub name is derived, before its binding is checked. */
export interface DerivedMember {
  identity: LaunchIdentity
  member: RosterMember
}

export interface DerivedPage {
  members: DerivedMember[]
  skipped: Array<{ reason: Exclude<SkipReason, 'taken'>, username?: string }>
}

/**
 * The claims a launch of this member would carry, as far as NRPS tells
 * them: `user_id` is the `sub`, the roles are the context roles, and the
 * custom claim comes from the member's message (sent only when the
 * request names a resource link).
 */
export function memberClaims (member: NrpsMember): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...member, sub: member.user_id, [LTI_CLAIM.roles]: member.roles ?? [] }
  const message = Array.isArray(member.message) ? member.message[0] as Record<string, unknown> | undefined : undefined
  const custom = message?.[LTI_CLAIM.custom]
  if (typeof custom === 'object' && custom !== null) claims[LTI_CLAIM.custom] = custom
  else delete claims[LTI_CLAIM.custom]
  return claims
}

/** NRPS 2.0: Active unless the platform says Inactive or Deleted. */
export function isActive (member: NrpsMember): boolean {
  return typeof member.status !== 'string' || member.status.toLowerCase() === 'active'
}

/**
 * Whether the member's username claim is there. A launch would fall back on
 * `sub` without it; a roster does not, because NRPS may withhold what the
 * launch sends (a privacy setting), and the fallback would give the person
 * a second hub name.
 */
function keyPresent (claims: Record<string, unknown>, usernameKey: string): boolean {
  const key = usernameKey.trim()
  if (key === '' || key === 'sub') return true
  try {
    usernameFromClaims({ ...claims, sub: undefined }, key)
    return true
  } catch (err) {
    if (err instanceof UsernameError) return false
    throw err
  }
}

/** Derives each member's hub name and role exactly as a launch of theirs would (lib/identity.ts). */
export function deriveMembers (members: NrpsMember[], platform: Platform, config: ToolAuthConfig): DerivedPage {
  const page: DerivedPage = { members: [], skipped: [] }
  for (const member of members) {
    const claims = memberClaims(member)
    if (typeof claims.sub !== 'string' && typeof claims.sub !== 'number') {
      page.skipped.push({ reason: 'no_user_id' })
      continue
    }
    if (!keyPresent(claims, platform.usernameKey)) {
      page.skipped.push({ reason: 'privacy' })
      continue
    }
    let identity: LaunchIdentity
    try {
      identity = launchIdentity(claims, platform, config)
    } catch (err) {
      if (err instanceof UsernameMissing) {
        page.skipped.push({ reason: 'no_user_id' })
        continue
      }
      if (err instanceof UsernameRefused) {
        page.skipped.push({ reason: 'refused' })
        continue
      }
      throw err
    }
    page.members.push({
      identity,
      member: { username: identity.username, role: identity.classification.role, active: isActive(member) }
    })
  }
  return page
}

/** The writes that bind each derived name to its (issuer, sub), as a launch's would (Store.bind). */
export function bindings (members: DerivedMember[]): StoreOperation[] {
  return members.map((derived) => bindUsername(derived.identity))
}

/** Splits the members by their bindings' answers: those whose name is theirs, and those whose name is another person's. */
export function byOwnership (members: DerivedMember[], owners: unknown[]): { own: DerivedMember[], taken: DerivedMember[] } {
  const own: DerivedMember[] = []
  const taken: DerivedMember[] = []
  members.forEach((derived, i) => (ownsUsername(derived.identity, owners[i]) ? own : taken).push(derived))
  return { own, taken }
}
