import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BindingMismatch, StateMismatch, StateUnknown } from '../errors.js'
import { refuseUnbound, type LoginState } from '../routes/lti13/login.js'
import { readPage } from '../views/binding.js'
import { postedByOurPage, secretsMatch, storageKey } from './binding.js'
import { publicBase } from './urls.js'

/** What tied a callback to the browser that began the launch. */
export type CallbackBinding = 'cookie' | 'storage' | 'unbound-allowed'

/**
 * Decides, before anything is taken or verified, whether this callback comes
 * from the browser that began the launch: the state cookie, or the secret the
 * login kept in the platform's storage, read back by our own page in this
 * browser. Returns how, or undefined when it has answered instead (the page
 * that reads the platform's storage, or the refusal with the new-window path).
 */
export async function bindCallback (
  fastify: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  body: { id_token: string, state: string, storage_binding?: unknown },
  cookieState: string | undefined
): Promise<CallbackBinding | undefined> {
  const { config, store } = fastify
  if (cookieState !== undefined && cookieState !== '') {
    // A present but different cookie means this browser began another launch.
    if (cookieState !== body.state) throw new StateMismatch()
    return 'cookie'
  }
  const record = await store.get<LoginState>(`state:${body.state}`)
  if (record === undefined) throw new StateUnknown()
  // No link that repeats this state's login: at the callback the state may be
  // an attacker's, and its login would be theirs. The person relaunches.
  const restart = undefined

  if (record.binding?.kind === 'storage') {
    if (body.storage_binding === undefined) {
      reply.header('cache-control', 'no-store')
      await reply.type('text/html; charset=utf-8').send(readPage({
        platformOrigin: record.binding.platformOrigin,
        target: record.binding.target,
        key: storageKey(body.state),
        action: `${publicBase(request, config)}${request.url.split('?')[0] ?? '/lti13/oauth_callback'}`,
        fields: { id_token: body.id_token, state: body.state },
        restart,
        timeoutMs: config.PLATFORM_STORAGE_TIMEOUT_MS
      }))
      return undefined
    }
    // Only our read page, in this browser, may present the value; a form
    // another site submits carries its own origin.
    if (!postedByOurPage(request, config) || !secretsMatch(record.binding.secret, body.storage_binding)) {
      throw new BindingMismatch()
    }
    return 'storage'
  }

  if (config.ALLOW_UNBOUND_LAUNCH) {
    request.log.warn('callback without the state cookie accepted (ALLOW_UNBOUND_LAUNCH)')
    return 'unbound-allowed'
  }
  await refuseUnbound(request, reply, restart)
  return undefined
}
