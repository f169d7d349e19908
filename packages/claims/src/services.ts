/**
 * The LTI Advantage services: Assignment and Grade Services 2.0 (AGS) and
 * Names and Role Provisioning Services 2.0 (NRPS). Their OAuth scopes,
 * media types and score vocabularies, shared by the platform that offers
 * them and the tool that calls them.
 */

const AGS = 'https://purl.imsglobal.org/spec/lti-ags/scope/'

/** The OAuth 2 scopes of AGS 2.0 and NRPS 2.0. */
export const SERVICE_SCOPE = {
  lineItem: `${AGS}lineitem`,
  lineItemReadOnly: `${AGS}lineitem.readonly`,
  resultReadOnly: `${AGS}result.readonly`,
  score: `${AGS}score`,
  contextMembershipReadOnly: 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly'
} as const

export type ServiceScope = (typeof SERVICE_SCOPE)[keyof typeof SERVICE_SCOPE]

/** The AGS scopes, in the order a launch's AGS claim lists them. */
export const AGS_SCOPES: readonly ServiceScope[] = Object.freeze([
  SERVICE_SCOPE.lineItem, SERVICE_SCOPE.lineItemReadOnly, SERVICE_SCOPE.resultReadOnly, SERVICE_SCOPE.score
])

/** Every service scope ltilaunch knows. */
export const SERVICE_SCOPES: readonly ServiceScope[] = Object.freeze([...AGS_SCOPES, SERVICE_SCOPE.contextMembershipReadOnly])

export const isServiceScope = (scope: string): scope is ServiceScope => (SERVICE_SCOPES as readonly string[]).includes(scope)

/** The media types of the services' bodies (AGS 2.0 §3, NRPS 2.0 §2.2). */
export const SERVICE_MEDIA_TYPE = {
  lineItem: 'application/vnd.ims.lis.v2.lineitem+json',
  lineItemContainer: 'application/vnd.ims.lis.v2.lineitemcontainer+json',
  resultContainer: 'application/vnd.ims.lis.v2.resultcontainer+json',
  score: 'application/vnd.ims.lis.v1.score+json',
  membershipContainer: 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json'
} as const

/** A Score's activityProgress (AGS 2.0 §3.4.7). */
export const ACTIVITY_PROGRESS = ['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'] as const
export type ActivityProgress = (typeof ACTIVITY_PROGRESS)[number]

/** A Score's gradingProgress (AGS 2.0 §3.4.8). */
export const GRADING_PROGRESS = ['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'] as const
export type GradingProgress = (typeof GRADING_PROGRESS)[number]

/** The client assertion type of a JWT client authentication (RFC 7523 §2.2), the one LTI uses. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
