/**
 * Builds the LTI part of an id_token payload, for the platform. The platform
 * adds the OIDC claims (iss, aud, sub, exp, iat, nonce, azp) and signs.
 *
 * The result is checked with the same `checkLaunchClaims` that tool-auth
 * runs, so the platform cannot sign a launch that its own tool would refuse.
 */
import { LTI_CLAIM, LTI_VERSION, MESSAGE_TYPE, normalizeContextTypes } from './claims.js'
import { checkLaunchClaims, type ClaimProblem } from './check.js'
import { normalizeRoles } from './roles.js'

export interface BuildLaunchInput {
  messageType?: typeof MESSAGE_TYPE.resourceLink
  deploymentId: string
  targetLinkUri: string
  resourceLink: { id: string, title?: string, description?: string }
  /** Full URIs, bare names (`Instructor`) or LTI 1.1 URNs; written as full URIs. */
  roles: string[]
  /** `type` accepts the bare names (`CourseOffering`); written as full URIs. */
  context?: { id: string, label?: string, title?: string, type?: string[] }
  toolPlatform?: {
    guid: string
    name?: string
    version?: string
    productFamilyCode?: string
    contactEmail?: string
    description?: string
    url?: string
  }
  launchPresentation?: {
    documentTarget?: 'iframe' | 'window' | 'frame' | (string & {})
    height?: number
    width?: number
    returnUrl?: string
    locale?: string
  }
  /** Carries `image` and `course_name` (see CUSTOM_KEY). */
  custom?: Record<string, string>
  /** Standard OIDC profile claims; leave out for a privacy-mode launch. */
  user?: { name?: string, givenName?: string, familyName?: string, email?: string, locale?: string }
  /** The AGS endpoint claim: the scopes granted, the context's line items and this link's line item. */
  ags?: { scope: string[], lineItems?: string, lineItem?: string }
  /** The NRPS claim: where the context's memberships are read. */
  nrps?: { contextMembershipsUrl: string, serviceVersions?: string[] }
}

/** The input would give a launch that `checkLaunchClaims` refuses. */
export class LaunchClaimsError extends Error {
  readonly code = 'LTI_CLAIMS_INVALID'
  readonly problems: ClaimProblem[]

  constructor (problems: ClaimProblem[]) {
    super(`Cannot build the launch: ${problems.map((problem) => problem.message).join(' ')}`)
    this.name = 'LaunchClaimsError'
    this.problems = problems
  }
}

/** An object without the keys whose value is undefined (a JWT payload has no undefined). */
function compact<T extends Record<string, unknown>> (object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>
}

/**
 * The LTI claims of an LtiResourceLinkRequest, keyed by claim URI, plus the
 * standard name, email and locale claims when `user` gives them. Roles and
 * context types are normalized to full URIs.
 *
 * Throws {@link LaunchClaimsError} when the result would not pass
 * `checkLaunchClaims` (an empty deployment id, resource link id or target
 * link URI), so a broken launch is never signed.
 */
export function buildLaunchClaims (input: BuildLaunchInput): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    [LTI_CLAIM.messageType]: input.messageType ?? MESSAGE_TYPE.resourceLink,
    [LTI_CLAIM.version]: LTI_VERSION,
    [LTI_CLAIM.deploymentId]: input.deploymentId,
    [LTI_CLAIM.targetLinkUri]: input.targetLinkUri,
    [LTI_CLAIM.resourceLink]: compact({
      id: input.resourceLink.id,
      title: input.resourceLink.title,
      description: input.resourceLink.description
    }),
    [LTI_CLAIM.roles]: normalizeRoles(input.roles)
  }

  if (input.context !== undefined) {
    const { id, label, title, type } = input.context
    claims[LTI_CLAIM.context] = compact({ id, label, title, type: type === undefined ? undefined : normalizeContextTypes(type) })
  }
  if (input.toolPlatform !== undefined) {
    const platform = input.toolPlatform
    claims[LTI_CLAIM.toolPlatform] = compact({
      guid: platform.guid,
      name: platform.name,
      version: platform.version,
      product_family_code: platform.productFamilyCode,
      contact_email: platform.contactEmail,
      description: platform.description,
      url: platform.url
    })
  }
  if (input.launchPresentation !== undefined) {
    const presentation = input.launchPresentation
    claims[LTI_CLAIM.launchPresentation] = compact({
      document_target: presentation.documentTarget,
      height: presentation.height,
      width: presentation.width,
      return_url: presentation.returnUrl,
      locale: presentation.locale
    })
  }
  if (input.custom !== undefined) {
    claims[LTI_CLAIM.custom] = { ...input.custom }
  }
  if (input.user !== undefined) {
    const user = input.user
    Object.assign(claims, compact({
      name: user.name,
      given_name: user.givenName,
      family_name: user.familyName,
      email: user.email,
      locale: user.locale
    }))
  }

  if (input.ags !== undefined && input.ags.scope.length > 0) {
    claims[LTI_CLAIM.agsEndpoint] = compact({ scope: [...input.ags.scope], lineitems: input.ags.lineItems, lineitem: input.ags.lineItem })
  }
  if (input.nrps !== undefined) {
    claims[LTI_CLAIM.nrps] = {
      context_memberships_url: input.nrps.contextMembershipsUrl,
      service_versions: [...(input.nrps.serviceVersions ?? ['2.0'])]
    }
  }

  const check = checkLaunchClaims(claims)
  if (!check.ok) throw new LaunchClaimsError(check.problems)
  return claims
}
