import fp from 'fastify-plugin'
import { HubClient } from '../drivers/hub-client.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The hub API the rosters are applied through; undefined with SPAWN_DRIVER=dry-run. */
    rosterHub: HubClient | undefined
  }
}

/** The hub client of POST /v1/rosters, with the spawn driver's hub, token and retries. */
export default fp(async function rostersPlugin (fastify) {
  const config = fastify.config
  const hub = config.SPAWN_DRIVER !== 'jupyterhub'
    ? undefined
    : new HubClient({
      url: config.HUB_URL as string,
      token: config.HUB_API_TOKEN as string,
      timeoutMs: config.HUB_REQUEST_TIMEOUT * 1000,
      retries: config.HUB_RETRIES,
      retryBaseMs: config.HUB_RETRY_BASE_MS,
      onRetry: (info) => fastify.log.warn({ method: info.method, path: info.path, attempt: info.attempt, reason: info.reason }, 'hub request failed; retrying')
    })
  fastify.decorate('rosterHub', hub)
}, { name: 'broker-rosters', fastify: '5.x' })
