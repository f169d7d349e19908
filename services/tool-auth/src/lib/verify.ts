import { audienceOf, checkAudience, checkLaunchClaims, LTI_CLAIM } from '@ltilaunch/claims'
import { errors, jwtVerify, type JWTPayload } from 'jose'
import type { Platform } from '../config.js'
import { Audience, ClaimsInvalid, DeploymentUnknown, NonceMismatch, TokenExpired, TokenInvalid, TokenNotYetValid } from '../errors.js'
import type { PlatformKeySet } from '../plugins/jwks.js'

export interface VerifyOptions {
  platform: Platform
  /** The client id chosen at login; the token's aud must name it. */
  clientId: string
  /** The nonce stored with the state. */
  nonce: string
  keySet: PlatformKeySet
  algorithms: string[]
  leeway: number
  maxAge: number
}

const TIME_HINT = 'If this happens on every launch, the clocks of the platform and this tool differ: fix the clocks, or set time_leeway (seconds).'

function hinted<E extends Error> (error: E, hint: string): E {
  (error as E & { hint?: string }).hint = hint
  return error
}

/**
 * Verifies an id_token as LTI 1.3 and OIDC ask, and returns its payload:
 * the signature with the issuer's keys (asymmetric algorithms from the
 * configured list only), iss, exp/iat/nbf and max age with the leeway, aud
 * and azp against the client ids, the nonce, the LTI claims, and the
 * deployment id when the registration lists them. Each failure throws a
 * TOOL_AUTH_* error. The nonce's single use is the caller's to claim.
 */
export async function verifyIdToken (idToken: string, options: VerifyOptions): Promise<JWTPayload & Record<string, unknown>> {
  const { platform } = options
  let payload: JWTPayload
  try {
    ({ payload } = await jwtVerify(idToken, options.keySet.getKey, {
      issuer: platform.issuer,
      algorithms: options.algorithms,
      clockTolerance: options.leeway,
      maxTokenAge: options.maxAge,
      requiredClaims: ['exp', 'iat', 'aud', 'nonce']
    }))
  } catch (err) {
    throw translate(err, platform)
  }
  const claims = payload as JWTPayload & Record<string, unknown>

  const audience = checkAudience(claims, platform.clientIds)
  if (!audience.ok) throw new Audience(audience.message ?? 'its audience is wrong.')
  if (!audienceOf(claims).includes(options.clientId)) {
    throw new Audience(`it is addressed to ${audienceOf(claims).join(', ')}, but this launch began for client id ${options.clientId}.`)
  }

  if (claims.nonce !== options.nonce) throw new NonceMismatch()

  const check = checkLaunchClaims(claims)
  if (!check.ok) {
    const error = new ClaimsInvalid(check.problems.map((problem) => `${problem.message} (${problem.code})`).join(' '))
    ;(error as unknown as { problems: unknown }).problems = check.problems
    throw hinted(error, 'The platform administrator can fix these in the tool\'s registration or placement.')
  }

  const deploymentId = String(claims[LTI_CLAIM.deploymentId])
  if (platform.deploymentIds.length > 0 && !platform.deploymentIds.includes(deploymentId)) {
    throw new DeploymentUnknown(deploymentId)
  }
  return claims
}

const TIME_CLAIMS = ['iat', 'exp', 'nbf']

/** A claim's value as a person reads it in a message: its JSON type and (briefly) the value. */
function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value} (${String(value)})`
}

/** jose's errors, as errors a person can act on. Unknown errors pass through (503s from the key set). */
function translate (err: unknown, platform: Platform): Error {
  if (err instanceof errors.JWTExpired) {
    return hinted(new TokenExpired(err.claim === 'iat' ? 'it was issued longer ago than max_age allows' : 'its exp time has passed'), TIME_HINT)
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    // A time claim of the wrong type is a platform bug, not a clock difference: say what it is.
    if (err.reason === 'invalid' && TIME_CLAIMS.includes(err.claim)) {
      return new TokenInvalid(`its "${err.claim}" claim is ${describeValue(err.payload[err.claim])}, not a number of seconds since 1970 (a NumericDate)`)
    }
    if (err.claim === 'iss') return new TokenInvalid(`it was issued by "${String(err.payload.iss)}", not by "${platform.issuer}"`)
    if (err.claim === 'nbf' || err.claim === 'iat') return hinted(new TokenNotYetValid(`its ${err.claim} time is in the future`), TIME_HINT)
    return new TokenInvalid(`the "${err.claim}" claim ${err.reason === 'missing' ? 'is missing' : 'is wrong'}`)
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenInvalid('it is signed with an algorithm this tool does not accept')
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenInvalid('it is signed with a key the platform does not publish (unknown kid)')
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenInvalid('its signature does not verify')
  if (err instanceof errors.JOSEError) return new TokenInvalid('it is not a well-formed signed JWT')
  if (err instanceof TypeError) return new TokenInvalid('it is not a well-formed signed JWT')
  return err as Error
}
