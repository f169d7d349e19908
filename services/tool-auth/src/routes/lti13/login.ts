import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { DeploymentUnknown, LoginParamMissing, TargetNotAllowed } from '../../errors.js'
import { rateLimited } from '../../lib/rate-limit.js'
import { cookieOptions, nextFromTarget, publicBase, targetAllowed } from '../../lib/urls.js'

export const STATE_COOKIE = 'lti13_state'

/** What the state stands for between login and callback. */
export interface LoginState {
  issuer: string
  clientId: string
  nonce: string
  targetLinkUri: string
  next?: string
  createdAt: number
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
  lti_deployment_id: Type.Optional(Type.String())
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
    await store.put(`state:${state}`, record, config.STATE_TTL)
    reply.setCookie(STATE_COOKIE, state, cookieOptions(request, config, config.STATE_TTL, { partitioned: true }))

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
    request.log.info({ issuer: platform.issuer, clientId }, 'login initiated')
    return await reply.code(302).header('cache-control', 'no-store').redirect(authorize.toString())
  }

  const schema = { response: { 302: Type.Null() } }
  const routeConfig = { rateLimit: rateLimited(config) }
  for (const url of ['/lti13/oauth_login', '/lti13/login']) {
    fastify.get(url, { config: routeConfig, schema: { ...schema, querystring: LoginParamsSchema } }, async (request, reply) => await initiate(request, reply, request.query))
    fastify.post(url, { config: routeConfig, schema: { ...schema, body: LoginParamsSchema } }, async (request, reply) => await initiate(request, reply, request.body))
  }
}

export default loginRoutes
