import { autoSubmitPage, type StoreOperation } from '@ltilaunch/service-kit'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { randomToken } from '../lib/csrf.js'
import { launchClaims, presentationOf, type LaunchInput } from '../lib/launch.js'
import { framedLaunchPage, STORAGE_TARGET, toolOrigins } from '../views/framed-launch.js'
import { LaunchInvalid } from '../errors.js'

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

export interface Launches {
  /**
   * Keeps the launch under a fresh message hint (in one round trip with
   * `alongside`) and sends the browser to the tool's login initiation.
   */
  begin: (reply: FastifyReply, input: LaunchInput, sessionId: string, alongside?: StoreOperation[]) => Promise<FastifyReply>
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
  const { config, registry, store } = fastify

  fastify.decorate('launches', {
    async begin (reply, input, sessionId, alongside = []) {
      let claims: Record<string, unknown>
      try {
        claims = launchClaims(input, registry.identity)
      } catch (err) {
        throw new LaunchInvalid((err as Error).message)
      }
      const hint = randomToken()
      const pending: PendingLaunch = {
        clientId: input.tool.clientId,
        deploymentId: input.deploymentId,
        sessionId,
        loginHint: input.user.sub,
        sub: input.user.sub,
        targetLinkUri: input.tool.targetLinkUri,
        claims
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
      if (presentationOf(input) === 'iframe') {
        // The tool opens in a frame of this page; with storage on, the login
        // initiation tells it where to post (Platform Storage: lti_storage_target).
        if (config.PLATFORM_STORAGE) params.lti_storage_target = STORAGE_TARGET
        const url = new URL(input.tool.initiateLoginUri)
        for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
        return await reply.type('text/html; charset=utf-8').send(framedLaunchPage({
          platformName: config.PLATFORM_NAME,
          toolName: input.tool.name,
          ...(input.context?.title === undefined ? {} : { courseTitle: input.context.title }),
          toolOrigins: toolOrigins([input.tool.initiateLoginUri, input.tool.targetLinkUri, ...input.tool.redirectUris]),
          initiation: input.tool.loginInitiationMethod === 'post'
            ? { method: 'post', action: input.tool.initiateLoginUri, fields: params }
            : { method: 'get', url: url.toString() },
          storage: config.PLATFORM_STORAGE,
          storageTtlSeconds: config.PLATFORM_STORAGE_TTL,
          backUrl: input.returnUrl ?? `${config.publicUrl}/`
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
    },
    takeOperation: (messageHint) => ({ op: 'take', key: key(messageHint) })
  } satisfies Launches)
}, { name: 'platform-launches', fastify: '5.x', dependencies: ['platform-registry', 'ltilaunch-store'] })
