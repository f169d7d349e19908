import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthorizationRequestParamsSchema, LTI_CLAIM, type AuthorizationRequestParams } from '@ltilaunch/claims'
import { autoSubmitPage } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AuthRedirectUriNotRegistered, AuthUnknownClient } from '../../errors.js'
import type { PendingLaunch } from '../../plugins/launches.js'
import { SESSION_COOKIE, type Session } from '../../plugins/sessions.js'

/** OIDC error codes (OIDC Core 3.1.2.6, RFC 6749 4.1.2.1) that go back to the tool. */
type OidcError = 'invalid_request' | 'invalid_scope' | 'unsupported_response_type' | 'unauthorized_client' | 'login_required'

/** Marks a POST that this endpoint re-submitted to itself (see below). */
const REPOST_FIELD = 'ltilaunch_repost'

type Params = AuthorizationRequestParams & Record<string, unknown>

/**
 * The OIDC authorization endpoint (LTI Security Framework 5.1.1.2-3): the
 * tool sends the browser here after the login initiation, and the platform
 * answers with a page that POSTs the signed id_token to the tool.
 *
 * An unknown client or an unregistered redirect_uri gets an error page and
 * never a redirect (the address cannot be trusted). Every other failure is
 * POSTed back to the redirect_uri as an OIDC error with the state.
 */
const authorize: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry, sessions, launches, keys, store, config } = fastify

  const respond = async (request: FastifyRequest, reply: FastifyReply, params: Params): Promise<FastifyReply> => {
    reply.header('cache-control', 'no-store')

    // A tool that POSTs here from another site, or that sends its frame here
    // (a tool framed in our launch page): SameSite=Lax keeps our session
    // cookie off a request that another site started. Re-submit the same
    // parameters from our own origin once, and the browser sends the cookie.
    const crossSiteStarted = request.method === 'POST' || request.headers['sec-fetch-dest'] === 'iframe'
    if (crossSiteStarted && request.cookies[SESSION_COOKIE] === undefined && params[REPOST_FIELD] === undefined) {
      const fields: Record<string, string> = { [REPOST_FIELD]: '1' }
      for (const [name, value] of Object.entries(params)) if (typeof value === 'string') fields[name] = value
      return await reply.type('text/html; charset=utf-8').send(autoSubmitPage({ title: 'Continuing to the tool', action: '/lti/authorize', fields }))
    }

    const clientId = params.client_id
    const tool = clientId === undefined ? undefined : await registry.tool(clientId)
    if (tool === undefined) throw new AuthUnknownClient()
    const redirectUri = params.redirect_uri
    if (redirectUri === undefined || !tool.redirectUris.includes(redirectUri)) throw new AuthRedirectUriNotRegistered()

    const state = params.state
    request.auditFacts({ target: { client_id: tool.clientId } })
    const fail = async (error: OidcError, description: string): Promise<FastifyReply> => {
      request.log.info({ clientId, error, reason: description }, 'authorization refused')
      request.audit({ type: 'platform.launch', outcome: 'failure', error_code: error })
      const fields: Record<string, string> = { error, error_description: description }
      if (state !== undefined) fields.state = state
      return await reply.type('text/html; charset=utf-8').send(autoSubmitPage({ title: `Returning to ${tool.name}`, action: redirectUri, fields }))
    }

    const missing = (['scope', 'response_type', 'login_hint', 'nonce', 'lti_message_hint'] as const)
      .filter((name) => params[name] === undefined || params[name] === '')
    if (missing.length > 0) return await fail('invalid_request', `Missing ${missing.join(', ')}.`)
    const { nonce, login_hint: loginHint, lti_message_hint: messageHint } = params as Required<AuthorizationRequestParams>
    if (!(params.scope ?? '').split(' ').includes('openid')) return await fail('invalid_scope', 'scope must be openid.')
    if (params.response_type !== 'id_token') return await fail('unsupported_response_type', 'response_type must be id_token.')
    if (params.response_mode !== 'form_post') return await fail('invalid_request', 'response_mode must be form_post.')
    if (params.prompt !== undefined && params.prompt !== 'none') return await fail('invalid_request', 'prompt must be none.')

    // The session and the message hint in one round trip; the hint is used once, whatever happens next.
    const readSession = sessions.readOperation(request)
    if (readSession === undefined) return await fail('login_required', 'No one is signed in to the platform in this browser.')
    const [session, pending] = await store.batch([readSession, launches.takeOperation(messageHint)]) as [Session | undefined, PendingLaunch | undefined]
    if (session === undefined) return await fail('login_required', 'No one is signed in to the platform in this browser.')
    if (pending === undefined) return await fail('invalid_request', 'The lti_message_hint is unknown, expired or already used.')
    if (pending.clientId !== tool.clientId) return await fail('unauthorized_client', 'This launch was started for another tool.')
    if (pending.sessionId !== session.id) return await fail('login_required', 'This launch was started by another sign-in.')
    if (loginHint !== pending.loginHint) return await fail('login_required', 'The login_hint does not name the user who started this launch.')
    if (!(await store.claim(`nonce:${tool.clientId}:${nonce}`, config.NONCE_TTL))) {
      return await fail('invalid_request', 'This nonce has already been used.')
    }

    const now = Math.floor(Date.now() / 1000)
    const idToken = await keys.sign({
      ...pending.claims,
      iss: config.issuer,
      aud: tool.clientId,
      azp: tool.clientId,
      sub: pending.sub,
      nonce,
      iat: now,
      exp: now + config.ID_TOKEN_TTL
    })
    request.log.info({ clientId, deploymentId: pending.deploymentId, kid: keys.kid }, 'id_token issued')
    request.audit({
      type: 'platform.launch',
      outcome: 'success',
      actor: { issuer: config.issuer, sub: pending.sub },
      target: { client_id: tool.clientId, deployment_id: pending.deploymentId, context_id: (pending.claims[LTI_CLAIM.context] as { id?: string } | undefined)?.id }
    })
    const fields: Record<string, string> = { id_token: idToken }
    if (state !== undefined) fields.state = state
    return await reply.type('text/html; charset=utf-8').send(autoSubmitPage({ title: `Opening ${tool.name}`, action: redirectUri, fields }))
  }

  fastify.get('/lti/authorize', { config: { audit: 'platform.launch' }, schema: { querystring: AuthorizationRequestParamsSchema } },
    async (request, reply) => await respond(request, reply, request.query as Params))
  fastify.post('/lti/authorize', { config: { audit: 'platform.launch' }, schema: { body: AuthorizationRequestParamsSchema } },
    async (request, reply) => await respond(request, reply, request.body as Params))
}

export default authorize
