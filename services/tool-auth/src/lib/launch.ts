import { createHash } from 'node:crypto'
import { courseGroup, CUSTOM_KEY, launchSummary, NO_NAMESPACE, type HubUserInfo, type NameSpace, type PendingLaunchRequest, type RoleClassification } from '@ltilaunch/claims'

export interface LaunchFacts {
  issuer: string
  clientId: string
  username: string
  classification: RoleClassification
  /** The platform's namespace, around its usernames and course groups. */
  namespace?: NameSpace
  launchId?: string
  image?: string
}

/**
 * The groups the hub sees: staff or learner, admin, and one per course
 * (`course:<context id>`, inside the platform's namespace, so that course
 * 2 of two platforms are two groups).
 */
export function hubGroups (classification: RoleClassification, contextId: string | undefined, namespace: NameSpace = NO_NAMESPACE): string[] {
  const groups: string[] = [classification.role]
  if (classification.isAdmin) groups.push('admin')
  if (contextId !== undefined) groups.push(courseGroup(contextId, namespace))
  return groups
}

/** The userinfo the hub reads at /oauth2/userinfo (claims' HubUserInfoSchema). */
export function buildUserinfo (claims: Record<string, unknown>, facts: LaunchFacts): HubUserInfo {
  const summary = launchSummary(claims)
  const info: HubUserInfo = {
    sub: summary.user.sub ?? facts.username,
    name: facts.username,
    preferred_username: facts.username,
    groups: hubGroups(facts.classification, summary.context?.id, facts.namespace),
    admin: facts.classification.isAdmin,
    lti: {
      issuer: facts.issuer,
      client_id: facts.clientId,
      deployment_id: summary.deploymentId,
      message_type: summary.messageType,
      roles: facts.classification.roles,
      role: facts.classification.role,
      custom: summary.custom
    }
  }
  if (summary.user.email !== undefined && summary.user.email !== '') info.email = summary.user.email
  if (summary.context !== undefined) {
    const { id, label, title, type } = summary.context
    info.lti.context = { id, type, ...(label !== undefined ? { label } : {}), ...(title !== undefined ? { title } : {}) }
  }
  if (summary.resourceLink !== undefined) {
    const { id, title } = summary.resourceLink
    info.lti.resource_link = { id, ...(title !== undefined ? { title } : {}) }
  }
  if (facts.launchId !== undefined) info.lti.launch_id = facts.launchId
  const image = facts.image ?? summary.custom[CUSTOM_KEY.image]
  if (image !== undefined && image !== '') info.lti.image = image
  return info
}

/** Texts cut to the broker schema's limits, so that a platform's long title never fails a launch. */
const clip = (text: string, max = 1024): string => text.length <= max ? text : text.slice(0, max)

function clipCustom (custom: Record<string, string>): Record<string, string> {
  const entries = Object.entries(custom).filter(([key]) => key.length <= 255).slice(0, 256)
  return Object.fromEntries(entries.map(([key, value]) => [key, clip(value, 8192)]))
}

/** The body of the broker's POST /v1/launches (claims' PendingLaunchRequestSchema). */
export function pendingLaunch (claims: Record<string, unknown>, facts: LaunchFacts): PendingLaunchRequest {
  const summary = launchSummary(claims)
  const userinfo = buildUserinfo(claims, facts)
  const request: PendingLaunchRequest = {
    username: facts.username,
    role: facts.classification.role,
    isAdmin: facts.classification.isAdmin,
    roles: facts.classification.roles.slice(0, 256).map((role) => clip(role)),
    user: { sub: userinfo.sub, issuer: facts.issuer },
    platform: { issuer: facts.issuer, clientId: facts.clientId, deploymentId: summary.deploymentId },
    resourceLink: { id: summary.resourceLink?.id ?? '' },
    custom: clipCustom(summary.custom),
    claims: {
      message_type: summary.messageType,
      roles: facts.classification.roles,
      context: userinfo.lti.context ?? null,
      custom: summary.custom,
      resource_link: userinfo.lti.resource_link ?? null
    }
  }
  if (summary.user.name !== undefined) request.user.name = clip(summary.user.name)
  if (userinfo.email !== undefined) request.user.email = clip(userinfo.email)
  if (summary.resourceLink?.title !== undefined) request.resourceLink.title = clip(summary.resourceLink.title)
  if (summary.context !== undefined) {
    const { id, label, title } = summary.context
    request.course = { id, ...(label !== undefined ? { label: clip(label) } : {}), ...(title !== undefined ? { title: clip(title) } : {}) }
  }
  const image = summary.custom[CUSTOM_KEY.image]
  if (image !== undefined && image !== '') request.image = clip(image, 512)
  if (facts.namespace !== undefined && (facts.namespace.prefix !== '' || facts.namespace.suffix !== '')) {
    request.namespace = { prefix: facts.namespace.prefix, suffix: facts.namespace.suffix }
  }
  return request
}

/** One launch, one key: a retried broker call (same issuer and nonce) makes one launch. */
export function idempotencyKey (issuer: string, nonce: string): string {
  return createHash('sha256').update(`${issuer}\n${nonce}`).digest('hex')
}
