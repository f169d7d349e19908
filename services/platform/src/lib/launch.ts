/**
 * What a launch is made of, and the claims it becomes. Both ways in (the
 * demo launch form and the launch API) produce a LaunchInput; the claims are
 * built once, when the launch starts, with packages/claims, so a launch the
 * tool would refuse is refused here first.
 */
import {
  buildLaunchClaims, CONTEXT_TYPE, CUSTOM_KEY, customClaimProblem, hubUsernameProblem, ID_TOKEN_PAYLOAD_MAX_BYTES, jsonBytes,
  LTI_CLAIM, type BuildLaunchInput
} from '@ltilaunch/claims'
import { CustomTooLarge, HubUsernameRefused, LaunchInvalid, LaunchTooLarge } from '../errors.js'
import type { Registration } from './registrations.js'

/** The person launching, as the platform knows them. */
export interface Launcher {
  /** The issuer-local id (never sent as is unless PLATFORM_SUBJECT=id). */
  id: string
  username?: string
  /** Stable and opaque; also the login_hint. */
  sub: string
  name?: string
  givenName?: string
  familyName?: string
  email?: string
  locale?: string
}

export interface LaunchInput {
  tool: Registration
  deploymentId: string
  user: Launcher
  /** Context and institution/system roles, any spelling; written as full URIs. */
  roles: string[]
  context?: { id: string, label?: string, title?: string }
  resourceLink: { id: string, title?: string }
  image?: string
  /** Link-level custom parameters (the launch API's); they win over the registration's. */
  custom?: Record<string, string>
  returnUrl?: string
  /** Where the tool opens: a frame in the platform's page or the whole window (default: the registration's document_target). */
  presentation?: 'iframe' | 'window'
  /** The AGS and NRPS claims (service URLs and scopes), when the launch is in a course and the tool may use them. */
  services?: Pick<BuildLaunchInput, 'ags' | 'nrps'>
}

/** Where a launch opens the tool: the launch's choice, else the registration's. */
export function presentationOf (input: LaunchInput): 'iframe' | 'window' {
  return input.presentation ?? (input.tool.documentTarget === 'window' ? 'window' : 'iframe')
}

export interface PlatformIdentity {
  guid: string
  name: string
  version: string
  url: string
}

/**
 * Substitutes LTI variables in a registration's custom parameter values. A
 * variable the platform may not fill (privacy flags) or has no value for is
 * left as written, as LTI 1.3 Core asks.
 */
export function substituteVariables (custom: Record<string, string>, input: LaunchInput): Record<string, string> {
  const { user, context, resourceLink, tool } = input
  const names = tool.sendName
  const variables: Record<string, string | undefined> = {
    '$User.id': user.sub,
    '$User.username': names ? user.username : undefined,
    '$Person.name.full': names ? user.name : undefined,
    '$Person.name.given': names ? user.givenName : undefined,
    '$Person.name.family': names ? user.familyName : undefined,
    '$Person.email.primary': tool.sendEmail ? user.email : undefined,
    '$Context.id': context?.id,
    '$Context.title': context?.title,
    '$Context.label': context?.label,
    '$ResourceLink.id': resourceLink.id,
    '$ResourceLink.title': resourceLink.title
  }
  return Object.fromEntries(Object.entries(custom).map(([key, value]) => {
    const replacement = Object.hasOwn(variables, value) ? variables[value] : undefined
    return [key, replacement ?? value]
  }))
}

/** The LTI claims (and the personal claims the registration allows) of a resource link launch. */
export function launchClaims (input: LaunchInput, platform: PlatformIdentity): Record<string, unknown> {
  const { tool, user, context } = input
  const custom: Record<string, string> = { ...substituteVariables(tool.custom, input), ...input.custom }
  if (input.image !== undefined) custom[CUSTOM_KEY.image] = input.image
  const courseName = context?.title ?? context?.label ?? context?.id
  if (courseName !== undefined && custom[CUSTOM_KEY.courseName] === undefined) custom[CUSTOM_KEY.courseName] = courseName

  const personal: NonNullable<BuildLaunchInput['user']> = {}
  if (tool.sendName) {
    if (user.name !== undefined) personal.name = user.name
    if (user.givenName !== undefined) personal.givenName = user.givenName
    if (user.familyName !== undefined) personal.familyName = user.familyName
  }
  if (tool.sendEmail && user.email !== undefined) personal.email = user.email
  const locale = user.locale ?? 'en'

  const build: BuildLaunchInput = {
    deploymentId: input.deploymentId,
    targetLinkUri: tool.targetLinkUri,
    resourceLink: input.resourceLink,
    roles: input.roles,
    toolPlatform: {
      guid: platform.guid,
      name: platform.name,
      version: platform.version,
      productFamilyCode: 'ltilaunch',
      url: platform.url
    },
    launchPresentation: {
      documentTarget: input.presentation ?? tool.documentTarget,
      locale,
      ...(input.returnUrl === undefined ? {} : { returnUrl: input.returnUrl })
    },
    custom
  }
  if (context !== undefined) build.context = { ...context, type: [CONTEXT_TYPE.CourseOffering] }
  if (input.services?.ags !== undefined) build.ags = input.services.ags
  if (input.services?.nrps !== undefined) build.nrps = input.services.nrps
  if (Object.keys(personal).length > 0) build.user = personal
  return buildLaunchClaims(build)
}

/**
 * Room kept in the id_token payload for the claims the authorization
 * endpoint adds to these (iss, sub, aud, azp, nonce, iat, exp).
 */
const AUTHORIZE_CLAIMS_ROOM = 8 * 1024

/** The largest launch claims (UTF-8 bytes of their JSON) that, signed with the rest, the tool's callback accepts. */
export const LAUNCH_CLAIMS_MAX_BYTES = ID_TOKEN_PAYLOAD_MAX_BYTES - AUTHORIZE_CLAIMS_ROOM

/**
 * The claims of a launch that can reach the tool: built (else
 * PLATFORM_LAUNCH_INVALID), with a custom claim within the limits both sides
 * share (else PLATFORM_CUSTOM_TOO_LARGE) and a payload that fits the form
 * post the tool accepts (else PLATFORM_LAUNCH_TOO_LARGE). Both ways in call
 * it when the launch starts, so no launch dies one hop later with a 413.
 */
export function deliverableLaunchClaims (input: LaunchInput, platform: PlatformIdentity): Record<string, unknown> {
  let claims: Record<string, unknown>
  try {
    claims = launchClaims(input, platform)
  } catch (err) {
    throw new LaunchInvalid((err as Error).message)
  }
  const problem = customClaimProblem((claims[LTI_CLAIM.custom] ?? {}) as Record<string, string>)
  if (problem !== undefined) throw new CustomTooLarge(problem)
  const bytes = jsonBytes(claims)
  if (bytes > LAUNCH_CLAIMS_MAX_BYTES) throw new LaunchTooLarge(bytes, LAUNCH_CLAIMS_MAX_BYTES)
  return claims
}

/**
 * Custom parameter names that carry a username, or may: a tool that sets
 * ltiauthenticator's username_key to custom_<name> makes its value the hub
 * username.
 */
const USERNAME_LIKE_KEY = /user|login|uid|mail/i

const preview = (value: string): string => JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)

/**
 * Why the hub would refuse a username that this launch can produce, or
 * undefined: each identifier the tool receives that can become the
 * username (sub, email when it is sent, username-like custom values) must
 * be one JupyterHub accepts. An empty value is left to the tool, which
 * falls back to sub.
 */
export function launchUsernameProblem (input: LaunchInput, claims: Record<string, unknown>): string | undefined {
  const candidates: Array<[string, string | undefined]> = [['sub', input.user.sub]]
  if (typeof claims.email === 'string') candidates.push(['email', claims.email])
  const custom = (claims[LTI_CLAIM.custom] ?? {}) as Record<string, string>
  for (const [key, value] of Object.entries(custom)) {
    if (USERNAME_LIKE_KEY.test(key)) candidates.push([`custom parameter ${key}`, value])
  }
  for (const [what, value] of candidates) {
    if (value === undefined || value === '') continue
    const problem = hubUsernameProblem(value)
    if (problem !== undefined) return `the ${what} ${preview(value)}: ${problem}`
  }
  return undefined
}

/** Throws PLATFORM_USERNAME_REFUSED when {@link launchUsernameProblem} finds one. */
export function checkLaunchUsernames (input: LaunchInput, claims: Record<string, unknown>): void {
  const problem = launchUsernameProblem(input, claims)
  if (problem !== undefined) throw new HubUsernameRefused(problem)
}
