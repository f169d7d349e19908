/**
 * Semantic checks of a launch, after the id_token's signature, issuer,
 * times and nonce are verified. They answer "is this an LTI 1.3 launch we
 * can act on?" and report every problem at once, each with a stable code,
 * so a platform admin can fix the registration in one go.
 */
import { LTI_CLAIM, LTI_VERSION, MESSAGE_TYPE } from './claims.js'

export interface ClaimProblem {
  /** Stable, for programs: `LTI_VERSION_INVALID`, `LTI_ROLES_MISSING`, ... */
  code: string
  /** The claim at fault, when there is one. */
  claim?: string
  /** What is wrong, for a person. */
  message: string
}

export interface ClaimCheckResult {
  ok: boolean
  problems: ClaimProblem[]
}

export interface CheckLaunchOptions {
  /** Accept LtiDeepLinkingRequest messages (default true). With false they give `LTI_MESSAGE_TYPE_UNSUPPORTED`. */
  deepLinking?: boolean
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A non-empty id: a string with something besides blanks, or a finite number. */
function hasId (value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  return typeof value === 'string' && value.trim() !== ''
}

function nonEmptyString (value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== ''
}

/** How a value looked, for messages: never the value itself, which may be long. */
function describe (value: unknown): string {
  if (value === undefined) return 'missing'
  if (value === null) return 'null'
  if (typeof value === 'string') return value.length <= 40 ? `"${value}"` : 'a long string'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** The audience of a token as a list: a string is a list of one; non-strings are ignored. */
export function audienceOf (payload: Record<string, unknown>): string[] {
  const aud = payload.aud
  if (typeof aud === 'string') return [aud]
  return Array.isArray(aud) ? aud.filter((entry): entry is string => typeof entry === 'string') : []
}

/**
 * Checks the claims of a launch after signature verification. Returns every
 * problem; `ok` is true when there are none.
 *
 * Codes: `LTI_VERSION_INVALID`, `LTI_MESSAGE_TYPE_UNKNOWN`,
 * `LTI_MESSAGE_TYPE_UNSUPPORTED` (deep linking refused by the options),
 * `LTI_DEPLOYMENT_ID_MISSING`, `LTI_ROLES_MISSING`, `LTI_CONTEXT_ID_MISSING`,
 * `LTI_AZP_MISSING`; for resource link requests `LTI_TARGET_LINK_URI_MISSING`,
 * `LTI_RESOURCE_LINK_MISSING`, `LTI_RESOURCE_LINK_ID_EMPTY`; for deep linking
 * requests `LTI_DEEP_LINKING_SETTINGS_MISSING`,
 * `LTI_DEEP_LINK_RETURN_URL_MISSING`.
 *
 * Liberal where real platforms differ from the letter of the spec: `sub` may
 * be absent (anonymous launch; usernames then fail with their own error),
 * the roles claim may be empty or a single string, context labels may be
 * empty, ids may be numbers. Whether `aud`/`azp` name this tool is
 * {@link checkAudience}'s job, since only the caller knows its client ids.
 */
export function checkLaunchClaims (payload: Record<string, unknown>, options: CheckLaunchOptions = {}): ClaimCheckResult {
  const problems: ClaimProblem[] = []
  const add = (code: string, claim: string | undefined, message: string): void => {
    problems.push(claim === undefined ? { code, message } : { code, claim, message })
  }

  const version = payload[LTI_CLAIM.version]
  if (version !== LTI_VERSION) {
    add('LTI_VERSION_INVALID', LTI_CLAIM.version,
      `The LTI version claim is ${describe(version)}; only LTI "${LTI_VERSION}" launches are accepted. ` +
      'Configure the tool in the platform as an LTI 1.3 tool.')
  }

  const messageType = payload[LTI_CLAIM.messageType]
  const isResourceLink = messageType === MESSAGE_TYPE.resourceLink
  const isDeepLinking = messageType === MESSAGE_TYPE.deepLinking
  if (!isResourceLink && !isDeepLinking) {
    add('LTI_MESSAGE_TYPE_UNKNOWN', LTI_CLAIM.messageType,
      `The message type is ${describe(messageType)}; expected "${MESSAGE_TYPE.resourceLink}" ` +
      `or "${MESSAGE_TYPE.deepLinking}".`)
  } else if (isDeepLinking && options.deepLinking === false) {
    add('LTI_MESSAGE_TYPE_UNSUPPORTED', LTI_CLAIM.messageType,
      `This tool does not accept deep linking requests ("${MESSAGE_TYPE.deepLinking}"); ` +
      'launch it from a link instead, or turn off content selection for it in the platform.')
  }

  if (!hasId(payload[LTI_CLAIM.deploymentId])) {
    add('LTI_DEPLOYMENT_ID_MISSING', LTI_CLAIM.deploymentId,
      'The launch has no deployment id; the platform must send the deployment_id claim with every launch.')
  }

  const roles = payload[LTI_CLAIM.roles]
  if (!Array.isArray(roles) && typeof roles !== 'string') {
    add('LTI_ROLES_MISSING', LTI_CLAIM.roles,
      `The roles claim is ${describe(roles)}; it must be an array of role URIs (it may be empty).`)
  }

  const context = payload[LTI_CLAIM.context]
  if (context !== undefined && context !== null && !(isRecord(context) && hasId(context.id))) {
    add('LTI_CONTEXT_ID_MISSING', LTI_CLAIM.context,
      'The context claim has no id; when a platform sends a context it must identify the course with context.id.')
  }

  if (isResourceLink) {
    if (!nonEmptyString(payload[LTI_CLAIM.targetLinkUri])) {
      add('LTI_TARGET_LINK_URI_MISSING', LTI_CLAIM.targetLinkUri,
        'The launch has no target_link_uri; a resource link launch must say which tool URL it is for.')
    }
    const link = payload[LTI_CLAIM.resourceLink]
    if (!isRecord(link)) {
      add('LTI_RESOURCE_LINK_MISSING', LTI_CLAIM.resourceLink,
        `The resource_link claim is ${describe(link)}; a resource link launch must carry an object with an id.`)
    } else if (!hasId(link.id)) {
      add('LTI_RESOURCE_LINK_ID_EMPTY', LTI_CLAIM.resourceLink,
        'The resource_link claim has an empty or missing id; the platform must identify the link that was launched.')
    }
  }

  if (isDeepLinking) {
    const settings = payload[LTI_CLAIM.deepLinkingSettings]
    if (!isRecord(settings)) {
      add('LTI_DEEP_LINKING_SETTINGS_MISSING', LTI_CLAIM.deepLinkingSettings,
        `The deep_linking_settings claim is ${describe(settings)}; a deep linking request must carry it.`)
    } else if (!nonEmptyString(settings.deep_link_return_url)) {
      add('LTI_DEEP_LINK_RETURN_URL_MISSING', LTI_CLAIM.deepLinkingSettings,
        'The deep_linking_settings claim has no deep_link_return_url, so the selection could never be sent back.')
    }
  }

  if (Array.isArray(payload.aud) && audienceOf(payload).length > 1 && payload.azp === undefined) {
    add('LTI_AZP_MISSING', 'azp',
      'The token names several audiences (aud) but no authorized party (azp); the platform must send azp with the tool\'s client id.')
  }

  return { ok: problems.length === 0, problems }
}

export interface AudienceCheckResult {
  ok: boolean
  /** The client id the token was issued to (azp when present, else the matching aud), when ok. */
  clientId?: string
  /** `LTI_AUD_MISMATCH`, `LTI_AZP_MISSING` or `LTI_AZP_MISMATCH` when not ok. */
  code?: string
  message?: string
}

/**
 * The OIDC audience rules (OIDC Core 3.1.3.7, LTI Security 5.1.3): `aud` (a
 * string or an array) must contain one of `clientIds`; when it has several
 * values `azp` must be present; when `azp` is present it must be one of
 * `clientIds` and in `aud`.
 */
export function checkAudience (payload: Record<string, unknown>, clientIds: string[]): AudienceCheckResult {
  const aud = audienceOf(payload)
  const known = new Set(clientIds)
  const match = aud.find((entry) => known.has(entry))
  if (match === undefined) {
    return {
      ok: false,
      code: 'LTI_AUD_MISMATCH',
      message: 'The token is not addressed to this tool: its audience (aud) holds none of the client ids registered for this platform.'
    }
  }
  const azp = payload.azp
  if (azp === undefined) {
    if (aud.length > 1) {
      return {
        ok: false,
        code: 'LTI_AZP_MISSING',
        message: 'The token names several audiences (aud) but no authorized party (azp); the platform must send azp with the tool\'s client id.'
      }
    }
    return { ok: true, clientId: match }
  }
  if (typeof azp !== 'string' || !known.has(azp) || !aud.includes(azp)) {
    return {
      ok: false,
      code: 'LTI_AZP_MISMATCH',
      message: 'The token\'s authorized party (azp) is not a client id registered for this platform, or is not among its audiences (aud).'
    }
  }
  return { ok: true, clientId: azp }
}
