import { ErrorReplySchema } from '@ltilaunch/service-kit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { apiKeyMatches } from '../../lib/api-keys.js'
import { randomToken } from '../../lib/csrf.js'
import { courseLinksKey, type CourseLink } from '../../lib/deep-linking.js'
import { ApiUnauthorized, UnknownDeployment, UnknownLink, UnknownTool } from '../../errors.js'

const Id = Type.String({ minLength: 1, maxLength: 255 })
const CourseParams = Type.Object({ course: Id })
const LinkParams = Type.Object({ course: Id, link: Type.String({ minLength: 1, maxLength: 64 }) })

const LinkRequestSchema = Type.Object({
  client_id: Id,
  deployment_id: Type.Optional(Id),
  title: Type.String({ minLength: 1, maxLength: 255 }),
  text: Type.Optional(Type.String({ maxLength: 1024 })),
  /** The tool URL the link opens; the registration's target_link_uri when absent. */
  url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  /** `image` and `course_name` are the ones ltilaunch reads. */
  custom: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: 255 }), Type.String({ maxLength: 8192 }), { maxProperties: 100 }))
}, { additionalProperties: false })

const LinkSchema = Type.Object({
  id: Type.String(),
  clientId: Type.String(),
  deploymentId: Type.String(),
  title: Type.String(),
  text: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  custom: Type.Record(Type.String(), Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String()
})

/**
 * Course links for host sites (server to server, the launch API's keys): the
 * same links course staff add with a tool's picker, made directly. A course
 * here is the host's context id; the demo course pages list the same links.
 */
const linksApi: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, registry, store } = fastify

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
    if (match === null || !apiKeyMatches(match[1] as string, config.apiKeyHashes)) throw new ApiUnauthorized()
  }
  const onRequest = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('www-authenticate', 'Bearer')
    await authenticate(request)
    reply.removeHeader('www-authenticate')
  }

  fastify.post('/api/v1/courses/:course/links', {
    onRequest,
    schema: { params: CourseParams, body: LinkRequestSchema, response: { 201: LinkSchema, 401: ErrorReplySchema, 404: ErrorReplySchema, 422: ErrorReplySchema } }
  }, async (request, reply) => {
    const body = request.body
    const tool = await registry.tool(body.client_id)
    if (tool === undefined) throw new UnknownTool(body.client_id)
    if (body.deployment_id !== undefined && !tool.deploymentIds.includes(body.deployment_id)) throw new UnknownDeployment(body.deployment_id, tool.clientId)
    const link: CourseLink = {
      id: randomToken(12),
      clientId: tool.clientId,
      deploymentId: body.deployment_id ?? tool.deploymentIds[0] as string,
      title: body.title,
      custom: { ...body.custom },
      createdBy: 'api',
      createdAt: new Date().toISOString()
    }
    if (body.text !== undefined) link.text = body.text
    if (body.url !== undefined) link.url = body.url
    await store.mapSet(courseLinksKey(request.params.course), link.id, link)
    request.log.info({ clientId: tool.clientId, course: request.params.course }, 'course link created by the API')
    return await reply.code(201).send(link)
  })

  fastify.get('/api/v1/courses/:course/links', {
    onRequest,
    schema: { params: CourseParams, response: { 200: Type.Object({ links: Type.Array(LinkSchema) }), 401: ErrorReplySchema } }
  }, async (request) => {
    const links = Object.values(await store.mapAll<CourseLink>(courseLinksKey(request.params.course)))
    return { links: links.sort((a, b) => a.createdAt.localeCompare(b.createdAt)) }
  })

  fastify.delete('/api/v1/courses/:course/links/:link', {
    onRequest,
    schema: { params: LinkParams, response: { 204: Type.Null(), 401: ErrorReplySchema, 404: ErrorReplySchema } }
  }, async (request, reply) => {
    if (!await store.mapDelete(courseLinksKey(request.params.course), request.params.link)) throw new UnknownLink()
    return await reply.code(204).send(null)
  })
}

export default linksApi
