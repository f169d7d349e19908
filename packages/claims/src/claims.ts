/**
 * LTI 1.3 claim names, message types and context types.
 *
 * The platform writes these keys into the id_token and tool-auth reads them
 * back, so both take them from here and cannot drift apart. Values come from
 * the IMS LTI 1.3 Core, Deep Linking 2.0, AGS 2.0 and NRPS 2.0 specs.
 */

const LTI = 'https://purl.imsglobal.org/spec/lti/claim/'
const LTI_DL = 'https://purl.imsglobal.org/spec/lti-dl/claim/'

/** Every LTI claim URI the services read or write, by a short name. */
export const LTI_CLAIM = {
  messageType: `${LTI}message_type`,
  version: `${LTI}version`,
  deploymentId: `${LTI}deployment_id`,
  targetLinkUri: `${LTI}target_link_uri`,
  resourceLink: `${LTI}resource_link`,
  roles: `${LTI}roles`,
  context: `${LTI}context`,
  toolPlatform: `${LTI}tool_platform`,
  launchPresentation: `${LTI}launch_presentation`,
  custom: `${LTI}custom`,
  lis: `${LTI}lis`,
  roleScopeMentor: `${LTI}role_scope_mentor`,
  forUser: `${LTI}for_user`,
  deepLinkingSettings: `${LTI_DL}deep_linking_settings`,
  deepLinkingContentItems: `${LTI_DL}content_items`,
  deepLinkingData: `${LTI_DL}data`,
  deepLinkingMsg: `${LTI_DL}msg`,
  deepLinkingLog: `${LTI_DL}log`,
  deepLinkingErrorMsg: `${LTI_DL}errormsg`,
  deepLinkingErrorLog: `${LTI_DL}errorlog`,
  agsEndpoint: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice'
} as const

export type LtiClaimName = (typeof LTI_CLAIM)[keyof typeof LTI_CLAIM]

/** The values of the message_type claim that ltilaunch knows. */
export const MESSAGE_TYPE = {
  resourceLink: 'LtiResourceLinkRequest',
  deepLinking: 'LtiDeepLinkingRequest',
  deepLinkingResponse: 'LtiDeepLinkingResponse'
} as const

export type MessageType = (typeof MESSAGE_TYPE)[keyof typeof MESSAGE_TYPE]

/** The only LTI version this code speaks; anything else is refused. */
export const LTI_VERSION = '1.3.0'

const COURSE = 'http://purl.imsglobal.org/vocab/lis/v2/course#'

/** The context types of LTI 1.3 Core (context claim, `type` array). */
export const CONTEXT_TYPE = {
  CourseTemplate: `${COURSE}CourseTemplate`,
  CourseOffering: `${COURSE}CourseOffering`,
  CourseSection: `${COURSE}CourseSection`,
  Group: `${COURSE}Group`
} as const

export type ContextType = (typeof CONTEXT_TYPE)[keyof typeof CONTEXT_TYPE]

/** LTI 1.1 spelled context types as URNs: `urn:lti:context-type:ims/lis/CourseSection`. */
const LEGACY_CONTEXT_TYPE = 'urn:lti:context-type:ims/lis/'

const CONTEXT_TYPE_BY_LOWER_NAME = new Map<string, string>(
  Object.entries(CONTEXT_TYPE).map(([name, uri]) => [name.toLowerCase(), uri])
)

/**
 * Turns a context type as platforms send it into the full URI.
 *
 * Older Moodle versions send the bare name (`CourseSection`) and LTI 1.1
 * platforms a URN, while the spec wants the full URI; matching the name is
 * case-insensitive. Unknown values (platforms invent their own) are kept,
 * trimmed. Empty or non-string input gives `undefined`.
 */
export function normalizeContextType (type: string): string | undefined {
  if (typeof type !== 'string') return undefined
  const value = type.trim()
  if (value === '') return undefined
  let name = value
  if (value.toLowerCase().startsWith(LEGACY_CONTEXT_TYPE)) {
    name = value.slice(LEGACY_CONTEXT_TYPE.length)
  } else if (value.startsWith(COURSE)) {
    name = value.slice(COURSE.length)
  }
  return CONTEXT_TYPE_BY_LOWER_NAME.get(name.toLowerCase()) ?? value
}

/**
 * Normalizes a context `type` claim: one string or an array (junk dropped),
 * every entry through {@link normalizeContextType}, duplicates removed.
 */
export function normalizeContextTypes (types: unknown): string[] {
  const list = typeof types === 'string' ? [types] : Array.isArray(types) ? types : []
  const out = new Set<string>()
  for (const entry of list) {
    if (typeof entry !== 'string') continue
    const type = normalizeContextType(entry)
    if (type !== undefined) out.add(type)
  }
  return [...out]
}
