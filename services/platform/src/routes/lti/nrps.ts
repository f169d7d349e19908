import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { normalizeRole, SERVICE_MEDIA_TYPE, SERVICE_SCOPE } from '@ltilaunch/claims'
import { Type } from 'typebox'
import { paged } from '../../lib/paging.js'
import { serviceUrls } from '../../lib/services.js'

const Id = Type.String({ minLength: 1, maxLength: 255 })

/**
 * Names and Role Provisioning Services 2.0: the members of a course the
 * tool was launched in, with their roles (full URIs), `user_id` equal to
 * the `sub` their launches carry, and names and e-mail only where the
 * tool's registration allows them (send_name, send_email).
 */
const nrpsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { ltiServices, registry, config } = fastify

  fastify.get('/lti/courses/:course/memberships', {
    onRequest: async (request, reply) => {
      request.serviceToken = await ltiServices.authenticate(request, reply, [SERVICE_SCOPE.contextMembershipReadOnly])
    },
    schema: {
      params: Type.Object({ course: Id }),
      querystring: Type.Object({
        /** A role, full URI or short name (Learner, Instructor, ...). */
        role: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        offset: Type.Optional(Type.Integer({ minimum: 0 }))
      })
    }
  }, async (request, reply) => {
    const clientId = request.serviceToken?.clientId as string
    const courseId = request.params.course
    const context = await ltiServices.context(clientId, courseId)
    const tool = await registry.tool(clientId)
    const role = request.query.role === undefined ? undefined : normalizeRole(request.query.role) ?? request.query.role
    const members = (await ltiServices.members(courseId)).filter((member) => role === undefined || member.roles.includes(role))
    const url = serviceUrls(config.publicUrl, courseId).memberships
    const page = paged(members, request, url)
    if (page.link !== undefined) reply.header('link', page.link)
    const course = registry.course(courseId) ?? context
    return await reply.type(SERVICE_MEDIA_TYPE.membershipContainer).send({
      id: url,
      context: { id: course.id, ...(course.label === undefined ? {} : { label: course.label }), ...(course.title === undefined ? {} : { title: course.title }) },
      members: page.items.map((member) => ({
        status: 'Active',
        user_id: member.sub,
        roles: member.roles,
        ...(tool?.sendName === true
          ? {
              ...(member.name === undefined ? {} : { name: member.name }),
              ...(member.givenName === undefined ? {} : { given_name: member.givenName }),
              ...(member.familyName === undefined ? {} : { family_name: member.familyName })
            }
          : {}),
        ...(tool?.sendEmail === true && member.email !== undefined ? { email: member.email } : {})
      }))
    })
  })
}

export default nrpsRoutes
