import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { publicBase } from '../../lib/urls.js'

/** RFC 8414 metadata, so the hub's admin can read the endpoints instead of guessing them. */
const metadataRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/.well-known/oauth-authorization-server', {
    schema: { response: { 200: Type.Record(Type.String(), Type.Any()) } }
  }, async (request) => {
    const base = publicBase(request, fastify.config)
    return {
      issuer: base,
      authorization_endpoint: `${base}/oauth2/authorize`,
      token_endpoint: `${base}/oauth2/token`,
      userinfo_endpoint: `${base}/oauth2/userinfo`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid']
    }
  })
}

export default metadataRoutes
