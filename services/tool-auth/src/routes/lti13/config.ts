import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { publicBase } from '../../lib/urls.js'

/** Custom fields ltiauthenticator asks Canvas for (email even when the platform hides it). */
const CUSTOM_FIELDS = { email: '$Person.email.primary', lms_user_id: '$User.id' }

const ToolConfiguration = Type.Object({
  title: Type.String(),
  description: Type.String(),
  oidc_initiation_url: Type.String(),
  target_link_uri: Type.String(),
  redirect_uris: Type.Array(Type.String()),
  public_jwk_url: Type.String(),
  scopes: Type.Array(Type.String()),
  custom_fields: Type.Record(Type.String(), Type.String()),
  extensions: Type.Array(Type.Any())
})

/**
 * The tool configuration JSON (Canvas "Paste JSON" / "Enter URL"), with the
 * fields of ltiauthenticator's (1.6), plus redirect_uris and public_jwk_url,
 * which it leaves out and Canvas admins then type by hand. `scopes` is empty
 * where ltiauthenticator asks for AGS, NRPS and Canvas API scopes: this tool
 * calls none of those services, so it asks for no access to them. The
 * content placements (assignment and module link selection) send a deep
 * linking request, so the instructor picks the image in the picker.
 */
const configRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/lti13/config', { schema: { response: { 200: ToolConfiguration } } }, async (request) => {
    const { config } = fastify
    const base = publicBase(request, config)
    const target = `${base}/lti13/launch`
    return {
      title: config.tool_name,
      description: config.tool_description,
      oidc_initiation_url: `${base}/lti13/oauth_login`,
      target_link_uri: target,
      redirect_uris: [`${base}/lti13/oauth_callback`, target],
      public_jwk_url: `${base}/lti13/jwks`,
      scopes: [],
      custom_fields: CUSTOM_FIELDS,
      extensions: [{
        platform: 'canvas.instructure.com',
        privacy_level: 'public',
        settings: {
          platform: 'canvas.instructure.com',
          text: config.tool_name,
          placements: [{
            placement: 'course_navigation',
            message_type: 'LtiResourceLinkRequest',
            windowTarget: '_blank',
            target_link_uri: target,
            custom_fields: CUSTOM_FIELDS
          }, {
            // Where instructors add content: the deep linking picker (choose the image), not a fixed link.
            placement: 'assignment_selection',
            message_type: 'LtiDeepLinkingRequest',
            target_link_uri: target
          }, {
            placement: 'link_selection',
            message_type: 'LtiDeepLinkingRequest',
            target_link_uri: target
          }]
        }
      }]
    }
  })

  fastify.get('/lti13/jwks', {
    schema: { response: { 200: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.String())) }) } }
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return fastify.toolKeys.jwks as { keys: Array<Record<string, string>> }
  })
}

export default configRoutes
