import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { NoSession, OAuthClientUnknown, RedirectUriMismatch } from '../../errors.js'
import { launchActor } from '../../lib/audit.js'
import type { CodeRecord } from '../../plugins/oauth.js'

/** RFC 6749 4.1.1 and RFC 7636 4.3; unknown parameters are ignored (RFC 6749 3.1). */
const AuthorizeQuery = Type.Object({
  response_type: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  redirect_uri: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  code_challenge: Type.Optional(Type.String()),
  code_challenge_method: Type.Optional(Type.String())
}, { additionalProperties: true })

/** A PKCE S256 challenge: base64url of a SHA-256 digest. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

const authorizeRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/oauth2/authorize', { config: { audit: 'tool.hub.code' }, schema: { querystring: AuthorizeQuery, response: { 302: Type.Null() } } }, async (request, reply) => {
    const query = request.query
    // Until the client and its redirect URI are known good, errors are shown
    // here, never redirected (RFC 6749 4.1.2.1): no open redirector.
    const client = fastify.oauth.client(query.client_id ?? '')
    if (client === undefined) throw new OAuthClientUnknown(query.client_id ?? '')
    let redirectUri = query.redirect_uri
    if (redirectUri === undefined || redirectUri === '') {
      if (client.redirectUris.length !== 1) throw new RedirectUriMismatch()
      redirectUri = client.redirectUris[0] as string
    } else if (!client.redirectUris.includes(redirectUri)) {
      throw new RedirectUriMismatch()
    }

    request.auditFacts({ actor: { client_id: client.clientId } })
    const back = (params: Record<string, string>) => {
      if (params.error !== undefined) request.audit({ type: 'tool.hub.code', outcome: 'failure', error_code: params.error })
      const url = new URL(redirectUri)
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
      if (query.state !== undefined) url.searchParams.set('state', query.state)
      return reply.code(302).header('cache-control', 'no-store').redirect(url.toString())
    }
    if (query.response_type !== 'code') {
      return await back({ error: 'unsupported_response_type', error_description: 'only response_type=code is supported' })
    }
    if (query.code_challenge !== undefined) {
      if (query.code_challenge_method !== 'S256') {
        return await back({ error: 'invalid_request', error_description: 'PKCE needs code_challenge_method=S256 (plain is not accepted)' })
      }
      if (!S256_CHALLENGE.test(query.code_challenge)) {
        return await back({ error: 'invalid_request', error_description: 'code_challenge is not an S256 challenge' })
      }
    }

    const session = await fastify.sessions.current(request)
    if (session === undefined) throw new NoSession()
    const record: CodeRecord = { clientId: client.clientId, scope: query.scope?.trim() || 'openid', userinfo: session.userinfo }
    if (query.redirect_uri !== undefined && query.redirect_uri !== '') record.redirectUri = query.redirect_uri
    if (query.code_challenge !== undefined) record.codeChallenge = query.code_challenge
    const code = await fastify.oauth.issueCode(record)
    request.log.info({ clientId: client.clientId, username: session.username }, 'authorization code issued')
    request.audit({ type: 'tool.hub.code', outcome: 'success', actor: launchActor(session.userinfo), target: { client_id: client.clientId, username: session.username } })
    return await back({ code })
  })
}

export default authorizeRoutes
