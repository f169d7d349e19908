import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { DeepLinkImageNotOffered, DeepLinkOneOnly, DeepLinkUnknown } from '../../errors.js'
import { pickKey, postResponse, resourceLinkItem, signDeepLinkingResponse, type DeepLinkPick } from '../../lib/deep-linking.js'
import { rateLimited } from '../../lib/rate-limit.js'
import { publicBase } from '../../lib/urls.js'

const Image = Type.String({ maxLength: 512 })

/** The picker's form. `pick` binds it to one verified deep linking request (and is its CSRF token). */
const PickBodySchema = Type.Object({
  pick: Type.String({ minLength: 20, maxLength: 100 }),
  image: Type.Optional(Type.Union([Image, Type.Array(Image, { maxItems: 50 })])),
  course_name: Type.String({ minLength: 1, maxLength: 255 }),
  title: Type.String({ minLength: 1, maxLength: 255 }),
  text: Type.Optional(Type.String({ maxLength: 1024 }))
})

const deepLinkRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify

  fastify.post('/lti13/deep-link', {
    schema: { body: PickBodySchema, response: { 200: Type.String({ description: 'the page that posts the response to the platform' }) } },
    config: { rateLimit: rateLimited(config) }
  }, async (request, reply) => {
    const body = request.body
    const pick = await store.get<DeepLinkPick>(pickKey(body.pick))
    if (pick === undefined) throw new DeepLinkUnknown()
    const chosen = (Array.isArray(body.image) ? body.image : body.image === undefined ? [] : [body.image]).map((image) => image.trim())
    if (chosen.length > 1 && !pick.acceptMultiple) throw new DeepLinkOneOnly()
    if (pick.offered !== undefined) {
      if (chosen.length === 0) throw new DeepLinkImageNotOffered('(none chosen)')
      for (const image of chosen) if (!pick.offered.includes(image)) throw new DeepLinkImageNotOffered(image.slice(0, 200))
    }
    // Checked first, taken once: a second submission (another tab, a replay) finds nothing.
    if (await store.take(pickKey(body.pick)) === undefined) throw new DeepLinkUnknown()

    const base = publicBase(request, config)
    const images = chosen.length === 0 ? [''] : chosen
    const items = images.map((image) => resourceLinkItem(base, pick, {
      image,
      courseName: body.course_name.trim(),
      // Several links at once are told apart by their image.
      title: images.length > 1 ? `${body.title} (${pick.names?.[image] ?? image})` : body.title,
      ...(body.text === undefined ? {} : { text: body.text })
    }))
    const jwt = await signDeepLinkingResponse(fastify, {
      issuer: pick.issuer,
      clientId: pick.clientId,
      deploymentId: pick.deploymentId,
      items,
      ...(pick.data === undefined ? {} : { data: pick.data }),
      msg: items.length === 1 ? `Added "${String(items[0]?.title)}".` : `Added ${items.length} notebook links.`,
      log: `images=${images.join(',')}`
    })
    request.log.info({ issuer: pick.issuer, username: pick.username, images }, 'deep linking response sent')
    return await postResponse(reply, config.tool_name, pick.returnUrl, jwt)
  })
}

export default deepLinkRoutes
