import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SERVICE_MEDIA_TYPE, SERVICE_SCOPE, type ServiceScope } from '@ltilaunch/claims'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { LineItemInvalid, LineItemNotFound, ScoreInvalid, ScoreOutOfOrder, ScoreUserNotMember, ServiceMediaType } from '../../errors.js'
import { paged } from '../../lib/paging.js'
import {
  checkLineItem, checkScore, lineItemsMap, mediaTypeOf, scoreField, scoresMap, serviceUrls,
  type AccessTokenRecord, type LineItem, type ScoreRecord
} from '../../lib/services.js'

const Id = Type.String({ minLength: 1, maxLength: 255 })
const CourseParams = Type.Object({ course: Id })
const LineItemParams = Type.Object({ course: Id, lineitem: Type.String({ minLength: 1, maxLength: 64 }) })
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 }))
const Offset = Type.Optional(Type.Integer({ minimum: 0 }))
/** A JSON object; its members are checked by checkLineItem / checkScore, each problem with its own message. */
const Body = Type.Record(Type.String(), Type.Unknown())

const READ_LINE_ITEMS: readonly ServiceScope[] = [SERVICE_SCOPE.lineItem, SERVICE_SCOPE.lineItemReadOnly]
const WRITE_LINE_ITEMS: readonly ServiceScope[] = [SERVICE_SCOPE.lineItem]

/** The JSON media types a body may come as, besides plain application/json (liberal: some tools send that). */
const accepts = (expected: string) => async (request: FastifyRequest): Promise<void> => {
  const type = mediaTypeOf(request.headers['content-type'])
  if (type !== expected && type !== 'application/json') throw new ServiceMediaType(type === '' ? 'none' : type, expected)
}

declare module 'fastify' {
  interface FastifyRequest {
    serviceToken?: AccessTokenRecord
  }
}

/**
 * Assignment and Grade Services 2.0, per course: the line items container,
 * a line item, its scores (the tool posts) and results (the tool reads).
 * Every call carries an access token from /lti/token with the scope it
 * needs; a tool reaches only courses it was launched in and only its own
 * line items. Scores are kept for good, the latest per user and line item.
 */
const agsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, ltiServices, config, scoreWebhook } = fastify

  // The LTI media types are JSON; any other body is read as text, so that the route answers 415 with its own code.
  fastify.addContentTypeParser([SERVICE_MEDIA_TYPE.lineItem, SERVICE_MEDIA_TYPE.score], { parseAs: 'string' }, fastify.getDefaultJsonParser('error', 'error'))
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })

  const needs = (scopes: readonly ServiceScope[]) => async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    request.serviceToken = await ltiServices.authenticate(request, reply, scopes)
  }
  const tokenOf = (request: FastifyRequest): AccessTokenRecord => request.serviceToken as AccessTokenRecord

  const lineItemOf = async (clientId: string, courseId: string, id: string): Promise<LineItem> => {
    const item = await store.mapGet<LineItem>(lineItemsMap(courseId), id)
    // Another tool's line item is not there, as far as this tool can tell.
    if (item === undefined || item.clientId !== clientId) throw new LineItemNotFound()
    return item
  }

  const represent = (courseId: string, item: LineItem): Record<string, unknown> => {
    const out: Record<string, unknown> = { id: serviceUrls(config.publicUrl, courseId).lineItem(item.id), label: item.label, scoreMaximum: item.scoreMaximum }
    for (const name of ['resourceLinkId', 'resourceId', 'tag', 'startDateTime', 'endDateTime', 'gradesReleased'] as const) {
      if (item[name] !== undefined) out[name] = item[name]
    }
    return out
  }

  fastify.get('/lti/courses/:course/lineitems', {
    onRequest: needs(READ_LINE_ITEMS),
    schema: {
      params: CourseParams,
      querystring: Type.Object({
        resource_link_id: Type.Optional(Id),
        resource_id: Type.Optional(Id),
        tag: Type.Optional(Id),
        limit: Limit,
        offset: Offset
      })
    }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const courseId = request.params.course
    await ltiServices.context(clientId, courseId)
    const query = request.query
    const items = Object.values(await store.mapAll<LineItem>(lineItemsMap(courseId)))
      .filter((item) => item.clientId === clientId)
      .filter((item) => query.resource_link_id === undefined || item.resourceLinkId === query.resource_link_id)
      .filter((item) => query.resource_id === undefined || item.resourceId === query.resource_id)
      .filter((item) => query.tag === undefined || item.tag === query.tag)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
    const page = paged(items, request, serviceUrls(config.publicUrl, courseId).lineItems)
    if (page.link !== undefined) reply.header('link', page.link)
    return await reply.type(SERVICE_MEDIA_TYPE.lineItemContainer).send(page.items.map((item) => represent(courseId, item)))
  })

  fastify.post('/lti/courses/:course/lineitems', {
    onRequest: needs(WRITE_LINE_ITEMS),
    preValidation: accepts(SERVICE_MEDIA_TYPE.lineItem),
    schema: { params: CourseParams, body: Body }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const courseId = request.params.course
    await ltiServices.context(clientId, courseId)
    const checked = checkLineItem(request.body)
    if (!checked.ok) throw new LineItemInvalid(checked.problem)
    const item: LineItem = { ...checked.value, id: randomBytes(12).toString('base64url'), clientId, createdAt: new Date().toISOString() }
    await store.mapSet(lineItemsMap(courseId), item.id, item)
    request.log.info({ clientId, course: courseId, lineItem: item.id }, 'line item created')
    const body = represent(courseId, item)
    return await reply.code(201).header('location', body.id as string).type(SERVICE_MEDIA_TYPE.lineItem).send(body)
  })

  fastify.get('/lti/courses/:course/lineitems/:lineitem', {
    onRequest: needs(READ_LINE_ITEMS),
    schema: { params: LineItemParams }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const { course, lineitem } = request.params
    await ltiServices.context(clientId, course)
    return await reply.type(SERVICE_MEDIA_TYPE.lineItem).send(represent(course, await lineItemOf(clientId, course, lineitem)))
  })

  fastify.put('/lti/courses/:course/lineitems/:lineitem', {
    onRequest: needs(WRITE_LINE_ITEMS),
    preValidation: accepts(SERVICE_MEDIA_TYPE.lineItem),
    schema: { params: LineItemParams, body: Body }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const { course, lineitem } = request.params
    await ltiServices.context(clientId, course)
    const existing = await lineItemOf(clientId, course, lineitem)
    const checked = checkLineItem(request.body)
    if (!checked.ok) throw new LineItemInvalid(checked.problem)
    // The link a line item belongs to stays; the rest is replaced by what the tool sent.
    const item: LineItem = {
      ...checked.value,
      ...(existing.resourceLinkId === undefined ? {} : { resourceLinkId: existing.resourceLinkId }),
      id: existing.id,
      clientId,
      createdAt: existing.createdAt
    }
    await store.mapSet(lineItemsMap(course), item.id, item)
    return await reply.type(SERVICE_MEDIA_TYPE.lineItem).send(represent(course, item))
  })

  fastify.delete('/lti/courses/:course/lineitems/:lineitem', {
    onRequest: needs(WRITE_LINE_ITEMS),
    schema: { params: LineItemParams }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const { course, lineitem } = request.params
    await ltiServices.context(clientId, course)
    await lineItemOf(clientId, course, lineitem)
    await store.mapDelete(lineItemsMap(course), lineitem)
    const scores = await store.mapAll<ScoreRecord>(scoresMap(course))
    await Promise.all(Object.entries(scores).filter(([, score]) => score.lineItemId === lineitem).map(async ([field]) => await store.mapDelete(scoresMap(course), field)))
    request.log.info({ clientId, course, lineItem: lineitem }, 'line item deleted')
    return await reply.code(204).send()
  })

  fastify.post('/lti/courses/:course/lineitems/:lineitem/scores', {
    config: { audit: 'platform.grades.score' },
    onRequest: needs([SERVICE_SCOPE.score]),
    preValidation: accepts(SERVICE_MEDIA_TYPE.score),
    schema: { params: LineItemParams, body: Body }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const { course, lineitem } = request.params
    const context = await ltiServices.context(clientId, course)
    const item = await lineItemOf(clientId, course, lineitem)
    const checked = checkScore(request.body)
    if (!checked.ok) throw new ScoreInvalid(checked.problem)
    const score: ScoreRecord = { ...checked.value, lineItemId: item.id, clientId, receivedAt: new Date().toISOString() }
    const members = await ltiServices.members(course)
    const member = members.find((candidate) => candidate.sub === score.userId)
    if (member === undefined) throw new ScoreUserNotMember(score.userId)
    // AGS 2.0 §3.4: a score older than the one kept does not replace it (last write by timestamp, not by arrival).
    const field = scoreField(item.id, score.userId)
    const kept = await store.mapGet<ScoreRecord>(scoresMap(course), field)
    if (kept !== undefined && Date.parse(kept.timestamp) > Date.parse(score.timestamp)) throw new ScoreOutOfOrder(kept.timestamp)
    await store.mapSet(scoresMap(course), field, score)
    request.log.info({ clientId, course, lineItem: item.id, gradingProgress: score.gradingProgress }, 'score kept')
    request.audit({ type: 'platform.grades.score', outcome: 'success', actor: { client_id: clientId }, target: { client_id: clientId, context_id: course, line_item: item.id } })
    await scoreWebhook.enqueue({ context, lineItem: item, score, member })
    return await reply.code(200).type('application/json; charset=utf-8').send({ resultUrl: `${serviceUrls(config.publicUrl, course).lineItem(item.id)}/results?user_id=${encodeURIComponent(score.userId)}` })
  })

  fastify.get('/lti/courses/:course/lineitems/:lineitem/results', {
    onRequest: needs([SERVICE_SCOPE.resultReadOnly]),
    schema: { params: LineItemParams, querystring: Type.Object({ user_id: Type.Optional(Id), limit: Limit, offset: Offset }) }
  }, async (request, reply) => {
    const { clientId } = tokenOf(request)
    const { course, lineitem } = request.params
    await ltiServices.context(clientId, course)
    const item = await lineItemOf(clientId, course, lineitem)
    const itemUrl = serviceUrls(config.publicUrl, course).lineItem(item.id)
    const scores = Object.values(await store.mapAll<ScoreRecord>(scoresMap(course)))
      .filter((score) => score.lineItemId === item.id && (request.query.user_id === undefined || score.userId === request.query.user_id))
      .sort((a, b) => a.userId.localeCompare(b.userId))
    const page = paged(scores, request, `${itemUrl}/results`)
    if (page.link !== undefined) reply.header('link', page.link)
    // resultScore on the line item's scale (AGS 2.0 §3.3), from the score as the tool sent it.
    return await reply.type(SERVICE_MEDIA_TYPE.resultContainer).send(page.items.map((score) => ({
      id: `${itemUrl}/results/${encodeURIComponent(score.userId)}`,
      scoreOf: itemUrl,
      userId: score.userId,
      ...(score.scoreGiven === undefined || score.scoreMaximum === undefined
        ? {}
        : { resultScore: score.scoreGiven / score.scoreMaximum * item.scoreMaximum, resultMaximum: item.scoreMaximum }),
      ...(score.comment === undefined ? {} : { comment: score.comment })
    })))
  })
}

export default agsRoutes
