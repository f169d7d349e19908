/**
 * A typed, normalized view of a launch for tool-auth: the LTI claims under
 * short names, ids as strings, roles and context types as full URIs, custom
 * values as strings, null texts dropped. Run `checkLaunchClaims` first; the
 * summary does not refuse anything, it only reads.
 */
import { LTI_CLAIM, normalizeContextTypes } from './claims.js'
import { stringifyCustom } from './custom.js'
import { normalizeRoles } from './roles.js'

export interface LaunchSummary {
  /** '' when absent. */
  messageType: string
  /** '' when absent. */
  version: string
  /** '' when absent. */
  deploymentId: string
  /** '' when absent. */
  targetLinkUri: string
  resourceLink?: { id: string, title?: string, description?: string }
  context?: { id: string, label?: string, title?: string, type: string[] }
  roles: string[]
  custom: Record<string, string>
  platform?: {
    guid?: string
    name?: string
    version?: string
    productFamilyCode?: string
    contactEmail?: string
    description?: string
    url?: string
  }
  /** The OIDC profile claims that were sent (none in privacy mode). */
  user: { sub?: string, name?: string, givenName?: string, familyName?: string, email?: string, locale?: string }
}

function record (value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

/** A string, or a finite number as a string; anything else (null included) → undefined. */
function text (value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/** An id: like {@link text} but trimmed, and undefined when blank. */
function id (value: unknown): string | undefined {
  const trimmed = text(value)?.trim()
  return trimmed === '' ? undefined : trimmed
}

/** Puts only defined values into an object, so optional keys are absent rather than undefined. */
function defined<T extends object> (object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T
}

/**
 * The claims of a launch that the hub may see (PendingLaunchRequest.claims,
 * and from there the hub's auth_state): what the launch is and where it came
 * from, but not the user's profile or the platform's service endpoints.
 */
export const HUB_VISIBLE_CLAIMS = [
  LTI_CLAIM.messageType,
  LTI_CLAIM.roles,
  LTI_CLAIM.context,
  LTI_CLAIM.custom,
  LTI_CLAIM.resourceLink
] as const

/** The {@link HUB_VISIBLE_CLAIMS} of a payload, as sent; absent claims stay absent. */
export function hubClaims (payload: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(HUB_VISIBLE_CLAIMS.filter((claim) => payload[claim] !== undefined).map((claim) => [claim, payload[claim]]))
}

/** Extracts the {@link LaunchSummary} of an id_token payload. */
export function launchSummary (payload: Record<string, unknown>): LaunchSummary {
  const summary: LaunchSummary = {
    messageType: text(payload[LTI_CLAIM.messageType]) ?? '',
    version: text(payload[LTI_CLAIM.version]) ?? '',
    deploymentId: id(payload[LTI_CLAIM.deploymentId]) ?? '',
    targetLinkUri: text(payload[LTI_CLAIM.targetLinkUri])?.trim() ?? '',
    roles: normalizeRoles(payload[LTI_CLAIM.roles]),
    custom: stringifyCustom(payload[LTI_CLAIM.custom]),
    user: defined({
      sub: id(payload.sub),
      name: text(payload.name),
      givenName: text(payload.given_name),
      familyName: text(payload.family_name),
      email: text(payload.email),
      locale: text(payload.locale)
    })
  }

  const link = record(payload[LTI_CLAIM.resourceLink])
  const linkId = id(link?.id)
  if (link !== undefined && linkId !== undefined) {
    summary.resourceLink = defined({ id: linkId, title: text(link.title), description: text(link.description) })
  }

  const context = record(payload[LTI_CLAIM.context])
  const contextId = id(context?.id)
  if (context !== undefined && contextId !== undefined) {
    summary.context = defined({
      id: contextId,
      label: text(context.label),
      title: text(context.title),
      type: normalizeContextTypes(context.type)
    })
  }

  const platform = record(payload[LTI_CLAIM.toolPlatform])
  if (platform !== undefined) {
    summary.platform = defined({
      guid: id(platform.guid),
      name: text(platform.name),
      version: text(platform.version),
      productFamilyCode: text(platform.product_family_code),
      contactEmail: text(platform.contact_email),
      description: text(platform.description),
      url: text(platform.url)
    })
  }

  return summary
}
