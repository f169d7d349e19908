import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ID_TOKEN_FORM_POST_LIMIT, launchSummary, LTI_CLAIM, MESSAGE_TYPE } from '@ltilaunch/claims'
import { html, page } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { CallbackMethod, CallbackParamMissing, NonceReplayed, NoSession, PlatformError, StateMissing, StateUnknown, TargetNotAllowed } from '../../errors.js'
import { bindCallback } from '../../lib/bind-callback.js'
import { isFramed } from '../../lib/binding.js'
import { deepLinkingResponse } from '../../lib/deep-linking.js'
import { assertUsernameOwner, bindUsername, launchIdentity } from '../../lib/identity.js'
import { buildUserinfo, idempotencyKey, pendingLaunch, type LaunchFacts } from '../../lib/launch.js'
import { readLaunchServices, type DroppedUrl } from '../../lib/launch-services.js'
import { rateLimited } from '../../lib/rate-limit.js'
import { cookieOptions, targetAllowed } from '../../lib/urls.js'
import { verifyIdToken } from '../../lib/verify.js'
import { STATE_COOKIE, type LoginState } from './login.js'
import { offerNewTab } from './resume.js'

/** The platform's form_post: an id_token and our state, or an OIDC error. Unknown fields pass. */
const CallbackBodySchema = Type.Object({
  id_token: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String()),
  /** The secret read back from the platform's storage by our own page (see lib/bind-callback.ts). */
  storage_binding: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: true })
type CallbackBody = Static<typeof CallbackBodySchema>

const Html = Type.String({ description: 'an HTML page' })

const callbackRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify

  async function callback (request: FastifyRequest, reply: FastifyReply, body: CallbackBody) {
    // The state cookie has done its work whatever happens next.
    const cookieState = request.cookies[STATE_COOKIE]
    reply.clearCookie(STATE_COOKIE, cookieOptions(request, config, 0, { partitioned: true }))

    if (body.error !== undefined && body.error !== '') throw new PlatformError(body.error_description ?? body.error)
    if (body.state === undefined || body.state === '') throw new StateMissing()
    if (body.id_token === undefined || body.id_token === '') throw new CallbackParamMissing('id_token')
    // Bound to this browser by the cookie or the platform's storage, or refused (login CSRF).
    const binding = await bindCallback(fastify, request, reply, { ...body, id_token: body.id_token, state: body.state }, cookieState)
    if (binding === undefined) return reply
    const framed = binding === 'storage' || isFramed(request)
    const state = await store.take<LoginState>(`state:${body.state}`)
    if (state === undefined) throw new StateUnknown()

    const platform = await fastify.platforms.get(state.issuer)
    const claims = await verifyIdToken(body.id_token, {
      platform,
      clientId: state.clientId,
      nonce: state.nonce,
      keySet: fastify.jwks.keySet(platform.issuer, platform.jwksEndpoint),
      algorithms: config.idTokenAlgorithms,
      leeway: config.time_leeway,
      maxAge: config.max_age
    })
    const messageType = claims[LTI_CLAIM.messageType]
    const claimedTarget = claims[LTI_CLAIM.targetLinkUri]
    if (typeof claimedTarget === 'string' && claimedTarget !== '' && !targetAllowed(claimedTarget, request, config)) {
      throw new TargetNotAllowed(claimedTarget)
    }

    const identity = launchIdentity(claims, platform, config)
    // One round trip: the nonce's single use, for as long as a token carrying
    // it could verify, and the username's binding to this (issuer, sub).
    const [nonceFresh, boundOwner] = await store.batch([
      { op: 'putNew', key: `nonce:${platform.issuer}:${state.nonce}`, value: 1, ttlSeconds: config.max_age + 2 * config.time_leeway + 60 },
      bindUsername(identity)
    ])
    if (nonceFresh !== true) throw new NonceReplayed()
    assertUsernameOwner(identity, boundOwner)
    const { username, classification } = identity
    const facts: LaunchFacts = { issuer: platform.issuer, clientId: state.clientId, username, classification, namespace: platform.namespace }

    if (messageType === MESSAGE_TYPE.deepLinking) {
      request.log.info({ issuer: platform.issuer, username }, 'deep linking request accepted')
      return await deepLinkingResponse(fastify, request, reply, claims, facts)
    }

    // Its grade and roster endpoints, for the scores API and rosters (a URL off the platform's hosts is dropped).
    const dropped: DroppedUrl[] = []
    const services = readLaunchServices(claims, launchSummary(claims), { ...facts, role: classification.role, namespace: platform.namespace }, platform, dropped)
    if (dropped.length > 0) request.log.warn({ issuer: platform.issuer, dropped }, "a launch's service URL is not on a host of its platform; ignored (see service_hosts)")
    if (services !== undefined) await fastify.launchServices.save(services)

    // A notebook launch: the target is our own /lti13/launch, without a `next`.
    const notebook = fastify.broker.configured && state.next === undefined &&
      new URL(state.targetLinkUri).pathname.replace(/\/+$/, '') === '/lti13/launch'
    let destination = state.next ?? state.targetLinkUri
    if (notebook) {
      // Nothing is opened before the broker accepts: a refusal or an outage leaves no session behind.
      const launch = await fastify.broker.createLaunch(pendingLaunch(claims, facts), idempotencyKey(platform.issuer, state.nonce))
      facts.launchId = launch.id
      facts.image = launch.image
      destination = launch.progressUrl
    }
    const userinfo = buildUserinfo(claims, facts)
    const sessionId = await fastify.sessions.open(request, reply, {
      username,
      userinfo,
      ...(facts.launchId !== undefined ? { launchId: facts.launchId, progressUrl: destination } : { next: destination }),
      createdAt: Date.now()
    }, [fastify.oauth.rememberLatest(userinfo)])
    request.log.info({ issuer: platform.issuer, username, role: classification.role, launchId: facts.launchId }, 'launch accepted')
    // The course's roster, in the background (never delays the launch): only where ROSTER_SYNC asks for it.
    fastify.rosters.afterLaunch(platform, services)
    // In a frame the hub cannot sign in (its cookies are third-party there): a new tab takes over.
    if (framed) return await offerNewTab(fastify, request, reply, sessionId, destination, facts.launchId !== undefined)
    return await reply.code(303).header('cache-control', 'no-store').redirect(destination)
  }

  const schema = { body: CallbackBodySchema, response: { 200: Html, 303: Type.Null() } }
  const routeConfig = { rateLimit: rateLimited(config) }
  // The form-posted id_token: the limit platforms plan for (@ltilaunch/claims limits.ts).
  const bodyLimit = ID_TOKEN_FORM_POST_LIMIT
  fastify.post('/lti13/oauth_callback', { schema, bodyLimit, config: routeConfig }, async (request, reply) => await callback(request, reply, request.body))
  // Some platforms post the id_token to the target link URI itself.
  fastify.post('/lti13/launch', { schema, bodyLimit, config: routeConfig }, async (request, reply) => await callback(request, reply, request.body))

  fastify.get('/lti13/oauth_callback', { schema: { response: { 405: Type.Any() } } }, async (_request, reply) => {
    reply.header('allow', 'POST')
    throw new CallbackMethod()
  })

  // The target link URI, when a browser arrives here after a launch.
  fastify.get('/lti13/launch', { schema: { response: { 200: Html, 303: Type.Null() } } }, async (request, reply) => {
    const session = await fastify.sessions.current(request)
    if (session === undefined) throw new NoSession()
    if (session.progressUrl !== undefined) return await reply.code(303).redirect(session.progressUrl)
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `Signed in to ${config.tool_name}`,
      body: html`<h1>You are signed in</h1>
<p>You launched ${config.tool_name} as <strong>${session.username}</strong> (${session.userinfo.lti.role}).</p>
${config.HUB_URL !== undefined
  ? html`<p><a href="${config.HUB_URL}">Open JupyterHub</a>; it signs you in with this launch.</p>`
  : html`<p>You can now open JupyterHub; it signs you in with this launch.</p>`}`
    }))
  })
}

export default callbackRoutes
