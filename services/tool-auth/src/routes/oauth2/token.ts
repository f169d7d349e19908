import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorReplySchema } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import type { OAuthClient } from '../../config.js'
import type { TokenReply } from '../../plugins/oauth.js'
import { clientAuthFailures } from '../../lib/rate-limit.js'

/**
 * RFC 6749 4.1.3 and 6, RFC 7636 4.5. Everything optional and unknown
 * fields allowed: JupyterHub's oauthenticator sends `data=None`, and a
 * missing field gets an RFC 6749 error rather than a schema error.
 */
const TokenBodySchema = Type.Object({
  grant_type: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  redirect_uri: Type.Optional(Type.String()),
  code_verifier: Type.Optional(Type.String()),
  refresh_token: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  client_secret: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String())
}, { additionalProperties: true })
type TokenBody = Static<typeof TokenBodySchema>

const TokenReplySchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.String(),
  expires_in: Type.Integer(),
  refresh_token: Type.String(),
  scope: Type.String()
})
const OAuthError = Type.Object({ error: Type.String(), error_description: Type.String() })

/** An RFC 6749 5.2 error; `invalid_client` is 401 with a Basic challenge. */
class TokenError extends Error {
  /** `revoked`: the refusal revoked a grant's tokens (a code or refresh token used twice). */
  constructor (readonly code: string, readonly description: string, readonly revoked = false) {
    super(description)
  }
}

/** RFC 7636 verifier: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

function basicCredentials (request: FastifyRequest): { id: string, secret: string } | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (match === null) throw new TokenError('invalid_client', 'the Authorization header is not HTTP Basic credentials')
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) throw new TokenError('invalid_client', 'the Basic credentials have no colon')
  // RFC 6749 2.3.1 form-encodes both parts; oauthenticator does not. Both work
  // for secrets without % or +, which is what we generate.
  const unescape = (value: string): string => {
    try {
      return decodeURIComponent(value.replaceAll('+', ' '))
    } catch {
      return value
    }
  }
  return { id: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) }
}

/** The client id a request claims, before it is checked (for counting failures); '' when none can be read. */
function claimedClientId (request: FastifyRequest, body: TokenBody): string {
  try {
    return basicCredentials(request)?.id ?? body.client_id ?? ''
  } catch {
    return ''
  }
}

const tokenRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { oauth } = fastify
  // Not limited per address: the hub calls from one. Only failed client authentications count.
  const failures = clientAuthFailures(fastify, fastify.config)

  function authenticate (request: FastifyRequest, body: TokenBody): OAuthClient {
    const basic = basicCredentials(request)
    let id = basic?.id ?? body.client_id
    let secret = basic?.secret ?? body.client_secret
    if (basic !== undefined) {
      if (body.client_id !== undefined && body.client_id !== basic.id) throw new TokenError('invalid_request', 'client_id in the body differs from the Basic credentials')
      if (body.client_secret !== undefined && body.client_secret !== basic.secret) throw new TokenError('invalid_request', 'the client secret in the body differs from the Basic credentials')
      id = basic.id
      secret = basic.secret
    }
    if (id === undefined || id === '' || secret === undefined) throw new TokenError('invalid_client', 'client authentication is required')
    const client = oauth.client(id)
    // Compare even for an unknown client, so that timing does not tell which ids exist.
    const matches = oauth.secretMatches(client ?? { clientId: '', clientSecret: '\u0000unknown', redirectUris: [] }, secret)
    if (client === undefined || !matches) throw new TokenError('invalid_client', 'unknown client or wrong client secret')
    return client
  }

  async function issued (tokens: Promise<TokenReply | undefined>): Promise<TokenReply> {
    const reply = await tokens
    if (reply === undefined) throw new TokenError('invalid_grant', 'the grant was revoked (its code or refresh token was used twice)')
    return reply
  }

  async function authorizationCode (request: FastifyRequest, client: OAuthClient, body: TokenBody) {
    if (body.code === undefined || body.code === '') throw new TokenError('invalid_request', 'code is required')
    const redeemed = await oauth.redeemCode(body.code)
    if (!redeemed.ok) {
      throw new TokenError('invalid_grant', redeemed.reused
        ? 'the code was already used; the tokens issued for it are revoked'
        : 'the code is unknown or has expired', redeemed.reused)
    }
    const code = redeemed.value
    request.auditFacts({ target: { username: code.userinfo.preferred_username } })
    if (code.clientId !== client.clientId) throw new TokenError('invalid_grant', 'the code was issued to another client')
    if (code.redirectUri !== undefined && body.redirect_uri !== code.redirectUri) {
      throw new TokenError('invalid_grant', 'redirect_uri differs from the one in the authorization request')
    }
    if (code.codeChallenge !== undefined) {
      if (body.code_verifier === undefined || !VERIFIER.test(body.code_verifier)) throw new TokenError('invalid_grant', 'a PKCE code_verifier is required')
      const challenge = createHash('sha256').update(body.code_verifier).digest('base64url')
      if (challenge !== code.codeChallenge) throw new TokenError('invalid_grant', 'the PKCE code_verifier does not match the code_challenge')
    } else if (body.code_verifier !== undefined) {
      // A verifier for a code issued without a challenge: a downgrade attempt or a confused client.
      throw new TokenError('invalid_grant', 'a code_verifier was sent but the authorization request had no code_challenge')
    }
    return await issued(oauth.issueTokens(redeemed.grantId, { clientId: client.clientId, scope: code.scope, userinfo: code.userinfo }))
  }

  async function refreshToken (request: FastifyRequest, client: OAuthClient, body: TokenBody) {
    if (body.refresh_token === undefined || body.refresh_token === '') throw new TokenError('invalid_request', 'refresh_token is required')
    const refreshed = await oauth.refresh(body.refresh_token)
    if (!refreshed.ok) {
      throw new TokenError('invalid_grant', refreshed.reused
        ? 'the refresh token was already used; the tokens of this grant are revoked'
        : 'the refresh token is unknown, expired or revoked', refreshed.reused)
    }
    request.auditFacts({ target: { username: refreshed.value.userinfo.preferred_username } })
    if (refreshed.value.clientId !== client.clientId) throw new TokenError('invalid_grant', 'the refresh token was issued to another client')
    return await issued(oauth.issueTokens(refreshed.grantId, refreshed.value))
  }

  fastify.post('/oauth2/token', {
    attachValidation: true,
    config: { audit: 'tool.hub.token' },
    schema: { body: TokenBodySchema, response: { 200: TokenReplySchema, 400: OAuthError, 401: OAuthError, 429: ErrorReplySchema } }
  }, async (request, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    try {
      if (request.validationError) throw new TokenError('invalid_request', 'the request body is not a form of strings')
      const body: TokenBody = request.body ?? {}
      const claimed = claimedClientId(request, body)
      await failures?.refuseIfExceeded(request, reply, claimed)
      const audited = async (tokens: TokenReply): Promise<TokenReply> => {
        request.audit({ type: 'tool.hub.token', outcome: 'success' })
        return tokens
      }
      // The client id as claimed, when it is one that could be (it is checked just below).
      if (/^[A-Za-z0-9._:@-]{1,200}$/.test(claimed)) request.auditFacts({ actor: { client_id: claimed } })
      let client: OAuthClient
      try {
        client = authenticate(request, body)
      } catch (err) {
        if (err instanceof TokenError && err.code === 'invalid_client') await failures?.failed(request, claimed)
        throw err
      }
      switch (body.grant_type) {
        case 'authorization_code': return await audited(await authorizationCode(request, client, body))
        case 'refresh_token': return await audited(await refreshToken(request, client, body))
        case undefined:
        case '': throw new TokenError('invalid_request', 'grant_type is required')
        default: throw new TokenError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported`)
      }
    } catch (err) {
      if (!(err instanceof TokenError)) throw err
      request.log.info({ error: err.code, reason: err.description }, 'token request refused')
      request.audit({ type: 'tool.hub.token', outcome: 'failure', error_code: err.code })
      if (err.revoked) request.audit({ type: 'tool.hub.revoked', outcome: 'success' })
      if (err.code === 'invalid_client') {
        reply.code(401).header('www-authenticate', 'Basic realm="tool-auth", charset="UTF-8"')
      } else {
        reply.code(400)
      }
      return { error: err.code, error_description: err.description }
    }
  })
}

export default tokenRoutes
