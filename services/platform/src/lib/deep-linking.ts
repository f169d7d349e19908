/**
 * Deep Linking 2.0, platform side: the LtiDeepLinkingRequest that course
 * staff send to a tool, and the checks on the tool's LtiDeepLinkingResponse
 * (a JWT the tool signs: iss = its client id, aud = our issuer, a nonce used
 * once, and the `data` we sent, which binds the answer to one request).
 */
import { checkLaunchClaims, LTI_CLAIM, LTI_VERSION, MESSAGE_TYPE, stringifyCustom } from '@ltilaunch/claims'
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { DeepLinkAudience, DeepLinkJwksUnavailable, DeepLinkTokenInvalid } from '../errors.js'
import { launchClaims, type LaunchInput, type PlatformIdentity } from './launch.js'
import type { Registration } from './registrations.js'
import { isKeySetUnavailable, TOOL_ALGORITHMS, toolKeySet } from './tool-keys.js'

/** What the platform keeps under a deep linking request's `data` until the tool answers (taken once). */
export interface PendingDeepLink {
  clientId: string
  deploymentId: string
  courseId: string
  /** Who asked: the issuer-local user id. */
  userId: string
}

/** A link kept for a course: what the tool chose, launched with its custom parameters. */
export interface CourseLink {
  id: string
  clientId: string
  deploymentId: string
  title: string
  text?: string
  /** The tool's URL for the link; the registration's target_link_uri when the tool gave none. */
  url?: string
  custom: Record<string, string>
  createdBy: string
  createdAt: string
}

export const pendingDeepLinkKey = (data: string): string => `deeplink:${data}`
export const courseLinksKey = (courseId: string): string => `links:${courseId}`

const isHttpUrl = (value: unknown): value is string => typeof value === 'string' && /^https?:\/\/[^\s]+$/i.test(value)

/**
 * The claims of an LtiDeepLinkingRequest: the same user, roles, context,
 * platform and personal claims a launch carries (so the tool identifies the
 * person alike), sent to the tool's deep linking URL with our return URL and
 * an opaque `data` that the answer must carry back.
 */
export function deepLinkingClaims (input: LaunchInput, platform: PlatformIdentity, settings: { returnUrl: string, data: string, title?: string }): Record<string, unknown> {
  const tool = input.tool
  if (tool.deepLinkingUrl === undefined) throw new Error(`tool ${tool.clientId} has no deep_linking_url`)
  const claims = launchClaims({ ...input, tool: { ...tool, targetLinkUri: tool.deepLinkingUrl } }, platform)
  Reflect.deleteProperty(claims, LTI_CLAIM.resourceLink)
  claims[LTI_CLAIM.messageType] = MESSAGE_TYPE.deepLinking
  claims[LTI_CLAIM.deepLinkingSettings] = {
    deep_link_return_url: settings.returnUrl,
    accept_types: ['ltiResourceLink'],
    accept_presentation_document_targets: ['window', 'iframe'],
    accept_multiple: true,
    auto_create: true,
    data: settings.data,
    ...(settings.title === undefined ? {} : { title: settings.title })
  }
  const check = checkLaunchClaims(claims)
  if (!check.ok) throw new Error(check.problems.map((problem) => problem.message).join(' '))
  return claims
}

/** The issuer a response claims (unverified: only to pick the registration whose keys then verify it). */
export function claimedIssuer (jwt: string): string {
  try {
    const iss = decodeJwt(jwt).iss
    if (typeof iss === 'string' && iss !== '') return iss
  } catch {}
  throw new DeepLinkTokenInvalid('it is not a JWT with an issuer.')
}

/**
 * Verifies the tool's answer: signature by the tool's JWKS, iss = its client
 * id, aud = our issuer, exp/iat, message type and version, and a nonce.
 * Throws PLATFORM_DEEP_LINK_TOKEN_INVALID, _AUDIENCE or _JWKS_UNAVAILABLE.
 */
export async function verifyDeepLinkingResponse (jwt: string, tool: Registration, options: { issuer: string, leewaySeconds?: number, maxAgeSeconds?: number }): Promise<JWTPayload> {
  if (tool.jwksUri === undefined) throw new DeepLinkTokenInvalid(`the tool ${tool.clientId} has no jwks_uri to verify it with.`)
  let payload: JWTPayload
  try {
    ({ payload } = await jwtVerify(jwt, toolKeySet(tool.jwksUri), {
      issuer: tool.clientId,
      audience: options.issuer,
      algorithms: TOOL_ALGORITHMS,
      clockTolerance: options.leewaySeconds ?? 60,
      maxTokenAge: options.maxAgeSeconds ?? 3600,
      requiredClaims: ['exp', 'iat', 'nonce']
    }))
  } catch (err) {
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') {
      throw new DeepLinkAudience(`it names ${JSON.stringify(decodeJwt(jwt).aud)}, and this platform is ${options.issuer}`)
    }
    if (isKeySetUnavailable(err)) {
      throw new DeepLinkJwksUnavailable((err as Error).message)
    }
    throw new DeepLinkTokenInvalid(`${(err as Error).message}.`)
  }
  if (payload[LTI_CLAIM.messageType] !== MESSAGE_TYPE.deepLinkingResponse) {
    throw new DeepLinkTokenInvalid(`its message type is ${JSON.stringify(payload[LTI_CLAIM.messageType])}, not LtiDeepLinkingResponse.`)
  }
  if (payload[LTI_CLAIM.version] !== LTI_VERSION) throw new DeepLinkTokenInvalid(`its LTI version is ${JSON.stringify(payload[LTI_CLAIM.version])}, not 1.3.0.`)
  if (typeof payload.nonce !== 'string' || payload.nonce === '') throw new DeepLinkTokenInvalid('it has no nonce.')
  return payload
}

/** The ltiResourceLink items of a response, as links to keep; other types (and unusable URLs) are counted as skipped. */
export function linksFromResponse (payload: JWTPayload, pending: PendingDeepLink, make: () => string): { links: CourseLink[], skipped: number } {
  const items = payload[LTI_CLAIM.deepLinkingContentItems]
  const links: CourseLink[] = []
  let skipped = 0
  for (const item of Array.isArray(items) ? items as Array<Record<string, unknown>> : []) {
    if (typeof item !== 'object' || item === null || item.type !== 'ltiResourceLink' || (item.url !== undefined && !isHttpUrl(item.url))) {
      skipped++
      continue
    }
    const link: CourseLink = {
      id: make(),
      clientId: pending.clientId,
      deploymentId: pending.deploymentId,
      title: (typeof item.title === 'string' && item.title.trim() !== '' ? item.title : 'Untitled link').slice(0, 255),
      custom: stringifyCustom(item.custom),
      createdBy: pending.userId,
      createdAt: new Date().toISOString()
    }
    if (typeof item.text === 'string' && item.text !== '') link.text = item.text.slice(0, 1024)
    if (isHttpUrl(item.url)) link.url = item.url
    links.push(link)
  }
  return { links, skipped }
}
