import { ErrorReplySchema } from '@ltilaunch/service-kit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

export const CatalogImageSchema = Type.Object({
  reference: Type.String({ description: 'what a launch names the image by (its `image` custom parameter): the alias, or the image' }),
  image: Type.String(),
  name: Type.String(),
  description: Type.Optional(Type.String()),
  staffOnly: Type.Boolean({ description: 'learners cannot start it' })
})

const CatalogSchema = Type.Object({
  images: Type.Array(CatalogImageSchema),
  default: Type.String({ description: 'the image a launch that names none starts' }),
  patterns: Type.Array(Type.String(), { description: 'further images staff may name, as regexes' })
})

/**
 * The image policy's allowed images, for tool-auth's deep linking picker: it
 * offers exactly what this policy would accept, so the two cannot disagree.
 */
const imagesApi: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/v1/images', {
    onRequest: fastify.requireServiceToken,
    schema: { response: { 200: CatalogSchema, 401: ErrorReplySchema } }
  }, async () => {
    const policy = fastify.imagePolicy
    return { images: [...policy.catalog], default: policy.defaultImage, patterns: [...policy.patternSources] }
  })
}

export default imagesApi
