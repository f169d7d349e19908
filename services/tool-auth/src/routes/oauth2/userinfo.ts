import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HubUserInfoSchema } from '@ltilaunch/claims'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'

const OAuthError = Type.Object({ error: Type.String(), error_description: Type.String() })

/**
 * The hub's view of the launched user (GenericOAuthenticator's
 * userdata_url). The token comes as `Authorization: Bearer` (RFC 6750 2.1),
 * oauthenticator's default. A token in the query string is not accepted:
 * URLs end up in access logs.
 */
const userinfoRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  async function userinfo (request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store')
    const header = request.headers.authorization
    const bearer = header === undefined ? undefined : /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header)?.[1]
    const token = bearer
    if (token === undefined || token === '') {
      reply.code(401).header('www-authenticate', 'Bearer realm="tool-auth"')
      return { error: 'invalid_request', error_description: 'an access token is required (Authorization: Bearer <token>)' }
    }
    const info = await fastify.oauth.userinfo(token)
    if (info === undefined) {
      reply.code(401).header('www-authenticate', 'Bearer realm="tool-auth", error="invalid_token"')
      return { error: 'invalid_token', error_description: 'the access token is unknown, expired or revoked' }
    }
    return info
  }
  const schema = { response: { 200: HubUserInfoSchema, 401: OAuthError } }
  fastify.get('/oauth2/userinfo', { schema }, userinfo)
  fastify.post('/oauth2/userinfo', { schema }, userinfo)
}

export default userinfoRoutes
