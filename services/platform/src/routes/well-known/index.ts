import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LTI_CLAIM, MESSAGE_TYPE, SERVICE_SCOPES } from '@ltilaunch/claims'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { TOOL_ALGORITHMS } from '../../lib/tool-keys.js'

const Jwk = Type.Object({
  kty: Type.String(),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.String()
}, { additionalProperties: true })

const JwksReply = Type.Object({ keys: Type.Array(Jwk) })

const OpenIdConfiguration = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.String(),
  jwks_uri: Type.String(),
  registration_endpoint: Type.String(),
  token_endpoint: Type.String(),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  token_endpoint_auth_signing_alg_values_supported: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  response_modes_supported: Type.Array(Type.String()),
  subject_types_supported: Type.Array(Type.String()),
  id_token_signing_alg_values_supported: Type.Array(Type.String()),
  claims_supported: Type.Array(Type.String()),
  'https://purl.imsglobal.org/spec/lti-platform-configuration': Type.Object({
    product_family_code: Type.String(),
    version: Type.String(),
    messages_supported: Type.Array(Type.Object({ type: Type.String() })),
    variables: Type.Array(Type.String())
  })
}, { additionalProperties: true })

export const SUPPORTED_VARIABLES = [
  '$User.id', '$User.username', '$Person.name.full', '$Person.name.given', '$Person.name.family',
  '$Person.email.primary', '$Context.id', '$Context.title', '$Context.label', '$ResourceLink.id', '$ResourceLink.title'
]

/** The public key set, and the OpenID configuration that points tools at it. */
const wellKnown: FastifyPluginAsyncTypebox = async (fastify) => {
  const { keys, config, registry } = fastify

  const jwks = async (_request: FastifyRequest, reply: FastifyReply) => {
    // Short enough that a tool sees a next key well before it signs.
    reply.header('cache-control', 'public, max-age=300')
    return keys.jwks
  }
  const jwksSchema = { schema: { response: { 200: JwksReply } } }
  fastify.get('/.well-known/jwks.json', jwksSchema, jwks)
  fastify.get('/lti/jwks', jwksSchema, jwks)

  fastify.get('/.well-known/openid-configuration', { schema: { response: { 200: OpenIdConfiguration } } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    const algs = [...new Set(keys.jwks.keys.map((key) => key.alg))]
    return {
      issuer: config.issuer,
      authorization_endpoint: `${config.publicUrl}/lti/authorize`,
      jwks_uri: `${config.publicUrl}/.well-known/jwks.json`,
      // LTI Dynamic Registration: tools register at registration_endpoint with an admin's one-time token.
      registration_endpoint: `${config.publicUrl}/lti/register`,
      token_endpoint: `${config.publicUrl}/lti/token`,
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      // Tools get access tokens to the LTI services (AGS, NRPS) here, authenticated by a JWT they sign (RFC 7523).
      token_endpoint_auth_signing_alg_values_supported: TOOL_ALGORITHMS,
      scopes_supported: ['openid', ...SERVICE_SCOPES],
      response_types_supported: ['id_token'],
      response_modes_supported: ['form_post'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: algs,
      claims_supported: [
        'iss', 'aud', 'azp', 'sub', 'iat', 'exp', 'nonce', 'name', 'given_name', 'family_name', 'email',
        LTI_CLAIM.messageType, LTI_CLAIM.version, LTI_CLAIM.deploymentId, LTI_CLAIM.targetLinkUri, LTI_CLAIM.resourceLink,
        LTI_CLAIM.roles, LTI_CLAIM.context, LTI_CLAIM.toolPlatform, LTI_CLAIM.launchPresentation, LTI_CLAIM.custom,
        LTI_CLAIM.agsEndpoint, LTI_CLAIM.nrps
      ],
      'https://purl.imsglobal.org/spec/lti-platform-configuration': {
        product_family_code: 'ltilaunch',
        version: registry.identity.version,
        messages_supported: [{ type: MESSAGE_TYPE.resourceLink }, { type: MESSAGE_TYPE.deepLinking }],
        variables: SUPPORTED_VARIABLES
      }
    }
  })
}

export default wellKnown
