import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LTI_CLAIM } from '@ltilaunch/claims'
import { html, page } from '@ltilaunch/service-kit'
import { Type } from 'typebox'
import { DeepLinkDataMismatch, DeepLinkNonceReplayed, DeepLinkResponseMissing, DeepLinkTokenInvalid } from '../../errors.js'
import { randomToken } from '../../lib/csrf.js'
import { claimedIssuer, courseLinksKey, linksFromResponse, pendingDeepLinkKey, verifyDeepLinkingResponse, type PendingDeepLink } from '../../lib/deep-linking.js'

/** The tool's form_post. Unknown fields pass (some tools add their own). */
const ReturnBody = Type.Object({ JWT: Type.Optional(Type.String({ maxLength: 200_000 })) }, { additionalProperties: true })

/**
 * The deep_link_return_url: the tool posts its signed answer here. The
 * browser's session cookie (SameSite=Lax) does not come with a cross-site
 * POST, so the answer is bound to its request by `data` (ours, random, kept
 * server side and taken once), never by the session.
 */
const deepLinkReturn: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry, store, config } = fastify

  fastify.post('/lti/deep-link-return', { config: { audit: 'platform.deep_link' }, schema: { body: ReturnBody } }, async (request, reply) => {
    const jwt = request.body.JWT
    if (jwt === undefined || jwt === '') throw new DeepLinkResponseMissing()
    const clientId = claimedIssuer(jwt)
    const tool = await registry.tool(clientId)
    if (tool === undefined) throw new DeepLinkTokenInvalid(`it comes from "${clientId.slice(0, 100)}", which is not a registered tool.`)
    request.auditFacts({ actor: { client_id: tool.clientId } })
    const payload = await verifyDeepLinkingResponse(jwt, tool, { issuer: config.issuer })
    if (!await store.claim(`dlnonce:${tool.clientId}:${String(payload.nonce)}`, config.NONCE_TTL)) throw new DeepLinkNonceReplayed()
    const data = payload[LTI_CLAIM.deepLinkingData]
    const key = typeof data === 'string' && data !== '' ? pendingDeepLinkKey(data) : undefined
    // Checked first, then taken once: an answer that fails a check leaves the request open for the right one.
    const pending = key === undefined ? undefined : await store.get<PendingDeepLink>(key)
    if (key === undefined || pending === undefined || pending.clientId !== tool.clientId) throw new DeepLinkDataMismatch()
    if (payload[LTI_CLAIM.deploymentId] !== pending.deploymentId) {
      throw new DeepLinkTokenInvalid(`its deployment id ${JSON.stringify(payload[LTI_CLAIM.deploymentId])} is not the one the request was sent with.`)
    }
    if (await store.take(key) === undefined) throw new DeepLinkDataMismatch()

    const { links, skipped } = linksFromResponse(payload, pending, () => randomToken(12))
    for (const link of links) await store.mapSet(courseLinksKey(pending.courseId), link.id, link)
    const errormsg = payload[LTI_CLAIM.deepLinkingErrorMsg]
    request.log.info({ clientId: tool.clientId, course: pending.courseId, added: links.length, skipped, toolError: typeof errormsg === 'string' }, 'deep linking response accepted')
    request.audit({ type: 'platform.deep_link', outcome: 'success', target: { client_id: tool.clientId, deployment_id: pending.deploymentId, context_id: pending.courseId } })
    const course = `/courses/${encodeURIComponent(pending.courseId)}`
    if (links.length > 0) return await reply.redirect(`${course}?added=${links.length}`, 303)
    // Nothing to add: say why, in the tool's words where it gave some.
    reply.header('cache-control', 'no-store')
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `No link added · ${config.PLATFORM_NAME}`,
      body: html`<h1>No link was added</h1>
<p>${typeof errormsg === 'string' && errormsg !== '' ? html`${tool.name} says: ${errormsg.slice(0, 2000)}` : `${tool.name} sent no link this platform can use${skipped > 0 ? ` (${skipped} item${skipped === 1 ? '' : 's'} of another kind)` : ''}.`}</p>
<p><a href="${course}">Back to the course</a></p>`
    }))
  })
}

export default deepLinkReturn
