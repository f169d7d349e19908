import fp from 'fastify-plugin'
import type { SpawnDriver } from '../drivers/driver.js'
import { DryRunDriver } from '../drivers/dry-run.js'
import { JupyterHubDriver } from '../drivers/jupyterhub.js'
import { launchActor } from '../launches/audit.js'

declare module 'fastify' {
  interface FastifyInstance {
    spawnDriver: SpawnDriver
  }
}

/** The driver that starts servers: jupyterhub (the hub's REST API) or dry-run. */
export default fp(async function spawnDriverPlugin (fastify) {
  const config = fastify.config
  let driver: SpawnDriver
  if (config.SPAWN_DRIVER === 'jupyterhub') {
    driver = new JupyterHubDriver(config, {
      onRetry: (info) => fastify.log.warn({ method: info.method, path: info.path, attempt: info.attempt, reason: info.reason }, 'hub request failed; retrying'),
      onWarning: (message) => fastify.log.warn(message),
      onReply: fastify.brokerMetrics.hubReply,
      onAdminFlag: (launch, set) => fastify.audit.record({
        type: 'broker.admin_flag',
        outcome: set ? 'success' : 'failure',
        ...(set ? {} : { error_code: 'BROKER_HUB_REFUSED' }),
        actor: launchActor(launch.request),
        target: { username: launch.username, admin: launch.request.isAdmin }
      })
    })
    fastify.log.info({ hub: config.HUB_URL, namedServers: config.HUB_NAMED_SERVERS, form: config.HUB_USER_OPTIONS_FORM }, 'spawning through the JupyterHub REST API')
  } else {
    driver = new DryRunDriver(config)
    fastify.log.warn('SPAWN_DRIVER=dry-run: launches show what would start, nothing is started (set HUB_URL for a real hub)')
  }
  fastify.decorate('spawnDriver', driver)
}, { name: 'broker-spawn-driver', fastify: '5.x', dependencies: ['broker-metrics'] })
