import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { noteErrorCode, wantsHtml } from '@ltilaunch/service-kit'
import { DeploymentUnknown, LaunchUnbound, LoginParamMissing, StateUnknown, TargetNotAllowed } from '../../errors.js'
import { bindingSecret, isFramed, platformOrigin, restartParams, restartUrl, storageKey, storageTargetOf, type StateBinding } from '../../lib/binding.js'
import { rateLimited } from '../../lib/rate-limit.js'
import { cookieOptions, nextFromTarget, publicBase, targetAllowed } from '../../lib/urls.js'
import { storePage, unboundPage } from '../../views/binding.js'

export const STATE_COOKIE = 'lti13_state'

/** What the state stands for between login and callback. */
export interface LoginState {
  issuer: string
  clientId: string
  nonce: string
  targetLinkUri: string
  next?: string
  createdAt: number
  /** How the state is tied to the browser: the cookie alone, or also the platform's storage. */
  binding?: StateBinding
  /** The login parameters, to restart the launch top-level in a new window. */
  restart?: Record<string, string>
  /** The authorization request, kept while a framed login checks that its cookie comes back. */
  authorizeRequest?: string
}

/** Answers that a launch cannot be tied to this browser: a page with the new-window path, or JSON. */
export async function refuseUnbound (request: FastifyRequest, reply: FastifyReply, restart: string | undefined): Promise<FastifyReply> {
  const error = new LaunchUnbound()
  request.log.info({ code: error.code }, 'launch refused: not bound to the browser')
  noteErrorCode(reply, error.code)
  request.audit({ type: 'tool.launch', outcome: 'failure', error_code: error.code })
  if (!wantsHtml(request)) throw error
  return await reply.code(error.statusCode).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(unboundPage({
    title: 'Open this tool in a new window',
    message: error.message,
    code: error.code,
    restart
  }))
}

/**
 * Third-party initiated login (LTI 1.3 Core, Security 5.1.1). Every field is
 * optional here so that a missing one gets its own named error, and unknown
 * ones pass (platforms add their own).
 */
const LoginParamsSchema = Type.Object({
  iss: Type.Optional(Type.String()),
  login_hint: Type.Optional(Type.String()),
  target_link_uri: Type.Optional(Type.String()),
  lti_message_hint: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  lti_deployment_id: Type.Optional(Type.String()),
  lti_storage_target: Type.Optional(Type.String())
}, { additionalProperties: true })
type LoginParams = Static<typeof LoginParamsSchema>

const REQUIRED = ['iss', 'login_hint', 'target_link_uri'] as const

const loginRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, platforms } = fastify

  async function initiate (request: FastifyRequest, reply: FastifyReply, params: LoginParams) {
    for (const name of REQUIRED) {
      if (typeof params[name] !== 'string' || params[name].trim() === '') throw new LoginParamMissing(name)
    }
    const platform = await platforms.get(params.iss as string)
    fastify.toolMetrics.issuer(request, platform.issuer)
    const clientId = platforms.clientFor(platform, params.client_id)
    const deploymentId = params.lti_deployment_id
    if (deploymentId !== undefined && deploymentId !== '' && platform.deploymentIds.length > 0 && !platform.deploymentIds.includes(deploymentId)) {
      throw new DeploymentUnknown(deploymentId)
    }
    const target = params.target_link_uri as string
    if (!targetAllowed(target, request, config)) throw new TargetNotAllowed(target)
    const next = nextFromTarget(target)
    if (next !== undefined && !targetAllowed(next, request, config)) throw new TargetNotAllowed(next)

    const state = randomBytes(32).toString('base64url')
    const nonce = randomBytes(32).toString('base64url')
    const record: LoginState = { issuer: platform.issuer, clientId, nonce, targetLinkUri: target, createdAt: Date.now() }
    if (next !== undefined) record.next = next
    const storageTarget = storageTargetOf(params.lti_storage_target)
    const binding: StateBinding = storageTarget === undefined
      ? { kind: 'cookie' }
      : { kind: 'storage', target: storageTarget, platformOrigin: platformOrigin(platform.authorizeUrl), secret: bindingSecret() }
    record.binding = binding
    record.restart = restartParams(params)

    const authorize = new URL(platform.authorizeUrl)
    const query: Record<string, string> = {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      prompt: 'none',
      client_id: clientId,
      redirect_uri: `${publicBase(request, config)}/lti13/oauth_callback`,
      login_hint: params.login_hint as string,
      state,
      nonce
    }
    if (params.lti_message_hint !== undefined) query.lti_message_hint = params.lti_message_hint
    for (const [name, value] of Object.entries(query)) authorize.searchParams.set(name, value)
    // A framed login that no platform storage binds depends on the cookie
    // coming back in the frame: check that first, while the platform's
    // one-time message hint is still unspent and a new window can restart.
    const probe = binding.kind === 'cookie' && isFramed(request) && !config.ALLOW_UNBOUND_LAUNCH
    if (probe) record.authorizeRequest = authorize.toString()
    await store.put(`state:${state}`, record, config.STATE_TTL)
    // The cookie binds whenever it comes back, storage or not (a top-level launch, a partitioned cookie).
    reply.setCookie(STATE_COOKIE, state, cookieOptions(request, config, config.STATE_TTL, { partitioned: true }))
    request.log.info({ issuer: platform.issuer, clientId, binding: binding.kind, framed: isFramed(request) }, 'login initiated')
    reply.header('cache-control', 'no-store')

    if (binding.kind === 'storage') {
      return await reply.type('text/html; charset=utf-8').send(storePage({
        platformName: new URL(platform.authorizeUrl).host,
        platformOrigin: binding.platformOrigin,
        target: binding.target,
        key: storageKey(state),
        value: binding.secret,
        next: authorize.toString(),
        restart: restartUrl(request, config, record.restart),
        timeoutMs: config.PLATFORM_STORAGE_TIMEOUT_MS
      }))
    }
    if (probe) {
      const check = new URL(`${publicBase(request, config)}/lti13/login/check`)
      check.searchParams.set('state', state)
      return await reply.code(303).redirect(check.toString())
    }
    return await reply.code(302).redirect(authorize.toString())
  }

  /** The second step of a framed login bound by cookie: did the cookie come back in this frame? */
  async function checkCookie (request: FastifyRequest, reply: FastifyReply, state: string) {
    const record = await store.get<LoginState>(`state:${state}`)
    if (record === undefined) throw new StateUnknown()
    if (record.authorizeRequest === undefined) throw new LaunchUnbound()
    const cookie = request.cookies[STATE_COOKIE]
    if (cookie !== state) {
      return await refuseUnbound(request, reply, record.restart === undefined ? undefined : restartUrl(request, config, record.restart))
    }
    return await reply.code(302).header('cache-control', 'no-store').redirect(record.authorizeRequest)
  }

  const schema = { response: { 200: Type.String({ description: 'the platform storage page' }), 302: Type.Null(), 303: Type.Null() } }
  // A launch refused at its first step is a refused launch too.
  const routeConfig = { rateLimit: rateLimited(config), audit: 'tool.launch' as const }
  for (const url of ['/lti13/oauth_login', '/lti13/login']) {
    fastify.get(url, { config: routeConfig, schema: { ...schema, querystring: LoginParamsSchema } }, async (request, reply) => await initiate(request, reply, request.query))
    fastify.post(url, { config: routeConfig, schema: { ...schema, body: LoginParamsSchema } }, async (request, reply) => await initiate(request, reply, request.body))
  }
  fastify.get('/lti13/login/check', {
    config: routeConfig,
    schema: { querystring: Type.Object({ state: Type.String({ minLength: 1, maxLength: 100 }) }), response: { 302: Type.Null() } }
  }, async (request, reply) => await checkCookie(request, reply, request.query.state))
}

export default loginRoutes
