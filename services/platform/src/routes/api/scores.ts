import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorReplySchema } from '@ltilaunch/service-kit'
import { Type } from 'typebox'
import { ApiUnauthorized } from '../../errors.js'
import { apiKeyMatches } from '../../lib/api-keys.js'
import { lineItemsMap, scoresMap, serviceUrls, type LineItem, type ScoreRecord } from '../../lib/services.js'

const ScoreEntry = Type.Object({
  lineItem: Type.Object({ id: Type.String(), label: Type.String(), scoreMaximum: Type.Number(), resourceLinkId: Type.Optional(Type.String()) }),
  clientId: Type.String(),
  user: Type.Object({ sub: Type.String(), hostUserId: Type.Optional(Type.String()), name: Type.Optional(Type.String()) }),
  scoreGiven: Type.Optional(Type.Number()),
  scoreMaximum: Type.Optional(Type.Number()),
  comment: Type.Optional(Type.String()),
  activityProgress: Type.String(),
  gradingProgress: Type.String(),
  timestamp: Type.String(),
  receivedAt: Type.String()
})

/**
 * The host API's read of a course's grades: every score the tools posted,
 * the latest per user and line item, with the host's own user id where the
 * launch came from its launch API. Same API key as the launch API.
 */
const scoresApi: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, ltiServices } = fastify

  fastify.get('/api/v1/courses/:course/scores', {
    onRequest: async (request, reply) => {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
      if (match === null || !apiKeyMatches(match[1] as string, config.apiKeyHashes)) {
        reply.header('www-authenticate', 'Bearer')
        throw new ApiUnauthorized()
      }
    },
    schema: {
      params: Type.Object({ course: Type.String({ minLength: 1, maxLength: 255 }) }),
      response: { 200: Type.Object({ course: Type.String(), scores: Type.Array(ScoreEntry) }), 401: ErrorReplySchema }
    }
  }, async (request, reply) => {
    const course = request.params.course
    const [items, scores, members] = await Promise.all([
      store.mapAll<LineItem>(lineItemsMap(course)),
      store.mapAll<ScoreRecord>(scoresMap(course)),
      ltiServices.members(course)
    ])
    const urls = serviceUrls(config.publicUrl, course)
    const entries = Object.values(scores).flatMap((score) => {
      const item = items[score.lineItemId]
      if (item === undefined) return []
      const member = members.find((candidate) => candidate.sub === score.userId)
      return [{
        lineItem: { id: urls.lineItem(item.id), label: item.label, scoreMaximum: item.scoreMaximum, ...(item.resourceLinkId === undefined ? {} : { resourceLinkId: item.resourceLinkId }) },
        clientId: score.clientId,
        user: {
          sub: score.userId,
          ...(member?.localId.startsWith('api:') === true ? { hostUserId: member.localId.slice('api:'.length) } : {}),
          ...(member?.name === undefined ? {} : { name: member.name })
        },
        ...(score.scoreGiven === undefined ? {} : { scoreGiven: score.scoreGiven, scoreMaximum: score.scoreMaximum }),
        ...(score.comment === undefined ? {} : { comment: score.comment }),
        activityProgress: score.activityProgress,
        gradingProgress: score.gradingProgress,
        timestamp: score.timestamp,
        receivedAt: score.receivedAt
      }]
    }).sort((a, b) => a.lineItem.label.localeCompare(b.lineItem.label) || a.user.sub.localeCompare(b.user.sub))
    return await reply.header('cache-control', 'no-store').send({ course, scores: entries })
  })
}

export default scoresApi
