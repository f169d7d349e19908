import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isServiceScope, JWT_BEARER_ASSERTION_TYPE, type ServiceScope } from '@ltilaunch/claims'
import type { FastifyError } from 'fastify'
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { Type } from 'typebox'
import {
  TokenAssertionAudience, TokenAssertionExpired, TokenAssertionInvalid, TokenAssertionReplayed, TokenClientUnknown, TokenGrantUnsupported,
  TokenJwksUnavailable, TokenRequestInvalid, TokenScopeInvalid
} from '../../errors.js'
import { accessTokenKey, assertionJtiKey, type AccessTokenRecord } from '../../lib/services.js'
import { isKeySetUnavailable, TOOL_ALGORITHMS, toolKeySet } from '../../lib/tool-keys.js'

const TokenRequest = Type.Object({
  grant_type: Type.Optional(Type.String({ maxLength: 200 })),
  client_assertion_type: Type.Optional(Type.String({ maxLength: 200 })),
  client_assertion: Type.Optional(Type.String({ maxLength: 16384 })),
  scope: Type.Optional(Type.String({ maxLength: 4096 })),
  client_id: Type.Optional(Type.String({ maxLength: 255 }))
}, { additionalProperties: true })

const TokenReply = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.String()
})

/** An RFC 6749 §5.2 error, with this service's stable code beside it. */
const OAuthError = Type.Object({ error: Type.String(), error_description: Type.String(), code: Type.String() })

/** The RFC 6749 §5.2 error each refusal goes out as (RFC 7523 §3.2: a bad client assertion is invalid_client). */
const OAUTH_ERROR: Record<string, string> = {
  PLATFORM_TOKEN_GRANT_UNSUPPORTED: 'unsupported_grant_type',
  PLATFORM_TOKEN_REQUEST_INVALID: 'invalid_request',
  PLATFORM_TOKEN_CLIENT_UNKNOWN: 'invalid_client',
  PLATFORM_TOKEN_ASSERTION_INVALID: 'invalid_client',
  PLATFORM_TOKEN_ASSERTION_EXPIRED: 'invalid_client',
  PLATFORM_TOKEN_ASSERTION_AUDIENCE: 'invalid_client',
  PLATFORM_TOKEN_ASSERTION_REPLAYED: 'invalid_client',
  PLATFORM_TOKEN_SCOPE_INVALID: 'invalid_scope',
  PLATFORM_TOKEN_JWKS_UNAVAILABLE: 'temporarily_unavailable'
}

/** How long an assertion may have been signed before it is used: a tool signs one for each request. */
const ASSERTION_MAX_AGE_SECONDS = 3600
const LEEWAY_SECONDS = 60

/**
 * The token endpoint (LTI Security Framework 1.0 §4.1): a tool asks for an
 * access token to the LTI services with the OAuth 2 client credentials
 * grant, authenticated by a JWT it signs with a key of its registered
 * jwks_uri (RFC 7523): iss = sub = its client_id, aud = this endpoint's URL
 * (or the platform's issuer), exp, iat and a jti used once. The token is
 * opaque, short-lived, and carries the scopes asked for that the
 * registration allows.
 */
const tokenRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, registry, store } = fastify
  const tokenUrl = `${config.publicUrl}/lti/token`
  // The token endpoint is the audience the spec names; the issuer is accepted too, as tools built for other LMSs send it.
  const audiences = [...new Set([tokenUrl, config.issuer, `${config.issuer}/lti/token`])]

  async function verifyAssertion (assertion: string): Promise<{ clientId: string, payload: JWTPayload, scopes: ServiceScope[] }> {
    let claimed: JWTPayload
    try {
      claimed = decodeJwt(assertion)
    } catch {
      throw new TokenAssertionInvalid('it is not a JWT.')
    }
    const clientId = claimed.iss
    if (typeof clientId !== 'string' || clientId === '') throw new TokenAssertionInvalid('it has no iss (the tool\'s client_id).')
    const tool = await registry.tool(clientId)
    if (tool === undefined) throw new TokenClientUnknown(`no tool is registered with client_id ${clientId}.`)
    if (tool.jwksUri === undefined) throw new TokenClientUnknown(`the tool ${clientId} has no jwks_uri registered to verify it with.`)
    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(assertion, toolKeySet(tool.jwksUri), {
        issuer: clientId,
        subject: clientId,
        audience: audiences,
        algorithms: TOOL_ALGORITHMS,
        clockTolerance: LEEWAY_SECONDS,
        maxTokenAge: ASSERTION_MAX_AGE_SECONDS,
        requiredClaims: ['exp', 'iat', 'jti']
      }))
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenAssertionExpired()
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') throw new TokenAssertionAudience(JSON.stringify(claimed.aud))
      if (isKeySetUnavailable(err)) throw new TokenJwksUnavailable((err as Error).message)
      throw new TokenAssertionInvalid(`${(err as Error).message}.`)
    }
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 255) throw new TokenAssertionInvalid('its jti must be a non-empty string.')
    // Taken once, atomically, until the assertion could no longer be accepted anyway (past exp, or too old by iat).
    const lastAccepted = Math.min(payload.exp as number, (payload.iat as number) + ASSERTION_MAX_AGE_SECONDS)
    const ttl = Math.max(1, lastAccepted + LEEWAY_SECONDS - Math.floor(Date.now() / 1000))
    if (!await store.claim(assertionJtiKey(clientId, payload.jti), ttl)) throw new TokenAssertionReplayed()
    return { clientId, payload, scopes: tool.scopes }
  }

  fastify.post('/lti/token', {
    schema: { body: TokenRequest, response: { 200: TokenReply, 400: OAuthError, 401: OAuthError, 503: OAuthError } }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    const body = request.body ?? {}
    try {
      if (body.grant_type === undefined || body.grant_type === '') throw new TokenRequestInvalid('grant_type is missing (client_credentials).')
      if (body.grant_type !== 'client_credentials') throw new TokenGrantUnsupported(body.grant_type)
      if (body.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) throw new TokenRequestInvalid(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}.`)
      if (body.client_assertion === undefined || body.client_assertion === '') throw new TokenRequestInvalid('client_assertion (the JWT the tool signs) is missing.')
      const { clientId, scopes: allowed } = await verifyAssertion(body.client_assertion)
      if (body.client_id !== undefined && body.client_id !== clientId) throw new TokenAssertionInvalid('client_id differs from the assertion\'s iss.')
      // Asked for and allowed; nothing asked for: everything allowed (RFC 6749 §3.3 lets the server choose).
      const asked = (body.scope ?? '').split(/\s+/).filter((scope) => scope !== '')
      const granted = asked.length === 0 ? allowed : [...new Set(asked.filter((scope) => isServiceScope(scope) && allowed.includes(scope)))] as ServiceScope[]
      if (granted.length === 0) {
        throw new TokenScopeInvalid(allowed.length === 0 ? 'this tool\'s registration allows no LTI service.' : `asked ${asked.join(' ')}, allowed ${allowed.join(' ')}.`)
      }
      const token = randomBytes(32).toString('base64url')
      await store.set(accessTokenKey(token), { clientId, scopes: granted } satisfies AccessTokenRecord, config.PLATFORM_ACCESS_TOKEN_TTL)
      request.log.info({ clientId, scopes: granted }, 'service access token issued')
      request.audit({ type: 'platform.grades.token', outcome: 'success', actor: { client_id: clientId } })
      return { access_token: token, token_type: 'Bearer' as const, expires_in: config.PLATFORM_ACCESS_TOKEN_TTL, scope: granted.join(' ') }
    } catch (err) {
      const code = (err as FastifyError).code
      const error = OAUTH_ERROR[code]
      if (error === undefined) throw err
      const statusCode = (err as FastifyError).statusCode === 401 ? 401 : (err as FastifyError).statusCode === 503 ? 503 : 400
      request.log.info({ code }, 'token request refused')
      request.audit({ type: 'platform.grades.token', outcome: 'failure', error_code: code })
      if (statusCode === 401) reply.header('www-authenticate', 'Bearer')
      if (statusCode === 503) reply.header('retry-after', '30')
      return await reply.code(statusCode).send({ error, error_description: (err as Error).message, code })
    }
  })
}

export default tokenRoute
