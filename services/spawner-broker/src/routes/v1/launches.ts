import { ErrorReplySchema } from '@ltilaunch/service-kit'
import { LaunchRecordSchema, LaunchStatusSchema, PendingLaunchRequestSchema } from '@ltilaunch/claims'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LaunchNotFound } from '../../errors.js'
import { launchActor, launchTarget } from '../../launches/audit.js'
import { acceptLaunch, launchUrls } from '../../launches/intake.js'
import { publicRecord } from '../../launches/records.js'
import { publicBase } from '../../public-url.js'

const Accepted = Type.Object({
  id: Type.String(),
  status: LaunchStatusSchema,
  image: Type.String(),
  serverName: Type.String(),
  progressUrl: Type.String(),
  statusUrl: Type.String()
})

export const LaunchIdParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })
})

/** The broker API tool-auth calls: queue a launch, read its record. */
const launchesApi: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/v1/launches', {
    // A refusal (the image policy, a bad token, a conflict) is recorded as a refused launch.
    config: { audit: 'broker.launch' },
    // onRequest: the token is checked before the body is even read.
    onRequest: fastify.requireServiceToken,
    schema: {
      headers: Type.Object({
        'idempotency-key': Type.String({ minLength: 1, maxLength: 200 })
      }),
      body: PendingLaunchRequestSchema,
      response: { 200: Accepted, 201: Accepted, 400: ErrorReplySchema, 401: ErrorReplySchema, 409: ErrorReplySchema, 422: ErrorReplySchema, 503: ErrorReplySchema }
    }
  }, async (request, reply) => {
    request.auditFacts({ actor: launchActor(request.body), target: { client_id: request.body.platform.clientId, image: request.body.image } })
    const { launch, created } = await acceptLaunch(fastify, request.body, request.headers['idempotency-key'])
    if (created) request.audit({ type: 'broker.launch', outcome: 'success', target: launchTarget(launch) })
    reply.code(created ? 201 : 200)
    return {
      id: launch.id,
      status: launch.status,
      image: launch.image,
      serverName: launch.serverName,
      ...launchUrls(publicBase(fastify.config, request), launch.id)
    }
  })

  fastify.get('/v1/launches/:id', {
    onRequest: fastify.requireServiceToken,
    schema: {
      params: LaunchIdParams,
      response: { 200: LaunchRecordSchema, 401: ErrorReplySchema, 404: ErrorReplySchema }
    }
  }, async (request) => {
    const launch = await fastify.launches.get(request.params.id)
    if (!launch) throw new LaunchNotFound()
    return publicRecord(launch)
  })
}

export default launchesApi
