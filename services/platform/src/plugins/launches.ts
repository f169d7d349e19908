import { autoSubmitPage, type StoreOperation } from '@ltilaunch/service-kit'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { randomToken } from '../lib/csrf.js'
import { deliverableLaunchClaims, presentationOf, type LaunchInput } from '../lib/launch.js'
import { framedLaunchPage, STORAGE_TARGET, toolOrigins } from '../views/framed-launch.js'

/** What is kept under an lti_message_hint between the login initiation and the authorization request. */
export interface PendingLaunch {
  clientId: string
  deploymentId: string
  /** The browser session that started the launch; the authorization request must come with it. */
  sessionId: string
  /** The login_hint sent to the tool: the user's sub. */
  loginHint: string
  sub: string
  targetLinkUri: string
  /** The LTI (and allowed personal) claims, built when the launch started. */
  claims: Record<string, unknown>
}

export interface PreparedLaunch {
  tool: LaunchInput['tool']
  deploymentId: string
  sub: string
  targetLinkUri: string
  claims: Record<string, unknown>
  /** `iframe`: the tool opens in a frame of a platform page that offers it postMessage storage. Default `window`. */
  presentation?: 'iframe' | 'window'
  /** For the framing page: the course's title, and where its back link goes. */
  courseTitle?: string
  backUrl?: string
}

export interface Launches {
  /**
   * Keeps the launch under a fresh message hint (in one round trip with
   * `alongside`) and sends the browser to the tool's login initiation.
   */
  begin: (reply: FastifyReply, input: LaunchInput, sessionId: string, alongside?: StoreOperation[]) => Promise<FastifyReply>
  /**
   * Like begin, with the claims already built (a deep linking request) and
   * sent to `targetLinkUri` instead of the registration's.
   */
  beginPrepared: (reply: FastifyReply, prepared: PreparedLaunch, sessionId: string, alongside?: StoreOperation[]) => Promise<FastifyReply>
  /** The operation that takes (once) the launch kept under a message hint, to batch with others. */
  takeOperation: (messageHint: string) => StoreOperation
}

declare module 'fastify' {
  interface FastifyInstance {
    launches: Launches
  }
}

const key = (hint: string): string => `hint:${hint}`

export default fp(async function launchesPlugin (fastify) {
  const { config, registry, store, ltiServices } = fastify

  async function beginPrepared (reply: FastifyReply, input: PreparedLaunch, sessionId: string, alongside: StoreOperation[] = []): Promise<FastifyReply> {
    const hint = randomToken()
    const pending: PendingLaunch = {
      clientId: input.tool.clientId,
      deploymentId: input.deploymentId,
      sessionId,
      loginHint: input.sub,
      sub: input.sub,
      targetLinkUri: input.targetLinkUri,
      claims: input.claims
    }
    await store.batch([...alongside, { op: 'set', key: key(hint), value: pending, ttlSeconds: config.MESSAGE_HINT_TTL }])
    const params: Record<string, string> = {
      iss: config.issuer,
      login_hint: pending.loginHint,
      target_link_uri: pending.targetLinkUri,
      lti_message_hint: hint,
      client_id: pending.clientId,
      lti_deployment_id: pending.deploymentId
    }
    reply.header('cache-control', 'no-store')
    if (input.presentation === 'iframe') {
      // The tool opens in a frame of this page; with storage on, the login
      // initiation tells it where to post (Platform Storage: lti_storage_target).
      if (config.PLATFORM_STORAGE) params.lti_storage_target = STORAGE_TARGET
      const url = new URL(input.tool.initiateLoginUri)
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
      const origins = toolOrigins([input.tool.initiateLoginUri, input.targetLinkUri, input.tool.targetLinkUri, ...input.tool.redirectUris])
      // This page frames the tool, and the tool's sign-in comes back to this
      // platform inside the frame ('self'); nothing else (merged into the kit's policy).
      const own = reply.getHeader('content-security-policy')
      reply.header('content-security-policy', [...(own === undefined ? [] : [String(own)]), `frame-src 'self' ${origins.join(' ')}`].join('; '))
      return await reply.type('text/html; charset=utf-8').send(framedLaunchPage({
        platformName: config.PLATFORM_NAME,
        toolName: input.tool.name,
        ...(input.courseTitle === undefined ? {} : { courseTitle: input.courseTitle }),
        toolOrigins: origins,
        initiation: input.tool.loginInitiationMethod === 'post'
          ? { method: 'post', action: input.tool.initiateLoginUri, fields: params }
          : { method: 'get', url: url.toString() },
        storage: config.PLATFORM_STORAGE,
        storageTtlSeconds: config.PLATFORM_STORAGE_TTL,
        backUrl: input.backUrl ?? `${config.publicUrl}/`
      }))
    }
    if (input.tool.loginInitiationMethod === 'post') {
      return await reply.type('text/html; charset=utf-8').send(autoSubmitPage({
        title: `Opening ${input.tool.name}`,
        action: input.tool.initiateLoginUri,
        fields: params
      }))
    }
    const url = new URL(input.tool.initiateLoginUri)
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
    return await reply.redirect(url.toString(), 303)
  }

  fastify.decorate('launches', {
    async begin (reply, given, sessionId, alongside = []) {
      const input = ltiServices.withServices(given)
      const claims = deliverableLaunchClaims(input, registry.identity)
      await ltiServices.recordLaunch(input)
      return await beginPrepared(reply, {
        tool: input.tool,
        deploymentId: input.deploymentId,
        sub: input.user.sub,
        targetLinkUri: input.tool.targetLinkUri,
        claims,
        presentation: presentationOf(input),
        ...(input.context?.title === undefined ? {} : { courseTitle: input.context.title }),
        ...(input.returnUrl === undefined ? {} : { backUrl: input.returnUrl })
      }, sessionId, alongside)
    },
    beginPrepared,
    takeOperation: (messageHint) => ({ op: 'take', key: key(messageHint) })
  } satisfies Launches)
}, { name: 'platform-launches', fastify: '5.x', dependencies: ['platform-registry', 'platform-services', 'ltilaunch-store'] })
