import { classifyRoles, hubUsernameProblem, LTI_CLAIM, namespaced, usernameFromClaims, UsernameError, type RoleClassification } from '@ltilaunch/claims'
import type { StoreOperation } from '@ltilaunch/service-kit'
import type { Platform, ToolAuthConfig } from '../config.js'
import { UsernameMissing, UsernameRefused, UsernameTaken } from '../errors.js'

/** Who a verified launch speaks for: the person (issuer, sub), their hub name and their authority. */
export interface LaunchIdentity {
  issuer: string
  sub: string
  username: string
  classification: RoleClassification
}

/** The longest username shown in a refusal; the rest is cut (the page is for a person). */
const SHOWN = 80

/**
 * Derives the hub username and the role of a verified launch: the
 * platform's username_key (or the global one), inside the platform's
 * namespace, lower-cased as JupyterHub does; staff or learner by the
 * context roles first; admin only by the platform's admin_roles.
 * A name the hub would refuse is refused here, before anything is opened.
 */
export function launchIdentity (claims: Record<string, unknown>, platform: Platform, config: ToolAuthConfig): LaunchIdentity {
  let derived: string
  try {
    derived = usernameFromClaims(claims, platform.usernameKey)
  } catch (err) {
    if (err instanceof UsernameError) throw new UsernameMissing(err.message)
    throw err
  }
  // A person is (issuer, sub): a launch without a sub names nobody a hub account could belong to.
  const sub = typeof claims.sub === 'number' ? String(claims.sub) : claims.sub
  if (typeof sub !== 'string' || sub.trim() === '') {
    throw new UsernameMissing('The launch does not say who you are (it has no "sub" claim: an anonymous launch), so no hub account can be yours. ' +
      'Ask the platform administrator to send the user\'s identity to this tool.')
  }
  const username = namespaced(derived, platform.namespace)
  const problem = hubUsernameProblem(username)
  if (problem !== undefined) {
    throw new UsernameRefused(username.length > SHOWN ? `${username.slice(0, SHOWN)}…` : username, problem)
  }
  const classification = classifyRoles(claims[LTI_CLAIM.roles], {
    ...(config.staffRoles ? { staffRoles: config.staffRoles } : {}),
    adminRoles: platform.adminRoles
  })
  return { issuer: platform.issuer, sub, username, classification }
}

/** The store key that binds a hub username to the person who first received it. */
const bindingKey = (username: string): string => `username:${username}`

/** The owner a username is bound to: the (issuer, sub) pair, as one string. */
const ownerOf = (identity: Pick<LaunchIdentity, 'issuer' | 'sub'>): string => JSON.stringify([identity.issuer, identity.sub])

/** The write that binds the launch's username to its person for good (sent with the nonce's claim). */
export function bindUsername (identity: LaunchIdentity): StoreOperation {
  return { op: 'bind', key: bindingKey(identity.username), owner: ownerOf(identity) }
}

/** Whether the username is bound to this identity's (issuer, sub), by the owner its binding returned. */
export function ownsUsername (identity: Pick<LaunchIdentity, 'issuer' | 'sub'>, boundOwner: unknown): boolean {
  return boundOwner === ownerOf(identity)
}

/** Refuses the launch when its username was bound to another (issuer, sub) first. */
export function assertUsernameOwner (identity: LaunchIdentity, boundOwner: unknown): void {
  if (!ownsUsername(identity, boundOwner)) throw new UsernameTaken(identity.username.length > SHOWN ? `${identity.username.slice(0, SHOWN)}…` : identity.username)
}
