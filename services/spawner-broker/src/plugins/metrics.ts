import { Counter, Gauge, launchStepHistogram, replyCodeLabel } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import type { WorkerEvents } from '../worker/worker.js'

export interface BrokerMetrics {
  /** What the worker reports: reclaims, takeovers, finished launches. */
  worker: WorkerEvents
  /** One answer of the hub's REST API (undefined status: no answer). */
  hubReply: (method: string, path: string, status: number | undefined) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    brokerMetrics: BrokerMetrics
  }
}

/**
 * The hub API path as a pattern: user, server and group names are data, not
 * labels (/users/ada/servers/ds101 → /users/:name/servers/:server).
 */
export function hubEndpoint (path: string): string {
  const parts = (path.split('?')[0] ?? '').split('/')
  return parts.map((part, i) => {
    const before = parts[i - 1]
    if (before === 'users' || before === 'groups') return ':name'
    if (before === 'servers') return ':server'
    return part
  }).join('/')
}

/**
 * The broker's own series: intake by outcome and code, spawn and ready
 * durations, the queue (depth, pending, oldest entry, reclaims, takeovers),
 * the worker's load, and the hub API's answers by status.
 */
export default fp(async function brokerMetricsPlugin (fastify) {
  const registry = fastify.metrics.registry
  const intake = new Counter({
    name: 'ltilaunch_broker_intake_total',
    help: 'launches handed to the broker (POST /v1/launches) by outcome (created, repeated, refused, failed) and error code',
    labelNames: ['outcome', 'code'],
    registers: [registry]
  })
  const steps = launchStepHistogram(registry)
  const spawns = new Counter({
    name: 'ltilaunch_spawns_total',
    help: 'launches the worker finished, by outcome (ready, failed, timeout)',
    labelNames: ['outcome'],
    registers: [registry]
  })
  const reclaimed = new Counter({
    name: 'ltilaunch_queue_reclaimed_entries_total',
    help: 'queue entries of a broker that stopped answering, claimed by this one',
    registers: [registry]
  })
  const takeovers = new Counter({
    name: 'ltilaunch_queue_lease_takeovers_total',
    help: 'launches another worker had begun, taken over by this one (delivered again)',
    registers: [registry]
  })
  const hubRequests = new Counter({
    name: 'ltilaunch_hub_requests_total',
    help: 'JupyterHub REST API requests by method, endpoint pattern and status (unreachable: no answer)',
    labelNames: ['method', 'endpoint', 'status'],
    registers: [registry]
  })

  // The queue as it is when scraped (shared by every broker: read from Redis, not counted here).
  let stats: Promise<{ entries: number, pending: number, oldestAgeSeconds: number } | undefined> | undefined
  const queueStats = async () => {
    // One read of the queue per scrape, shared by the three gauges.
    stats ??= fastify.workQueue.stats().catch((err: unknown) => {
      fastify.log.debug({ err: (err as Error).message }, 'cannot read the queue for metrics')
      return undefined
    }).finally(() => { setImmediate(() => { stats = undefined }) })
    return await stats
  }
  const queueGauge = (name: string, help: string, pick: (s: { entries: number, pending: number, oldestAgeSeconds: number }) => number) => registry.registerMetric(new Gauge({
    name,
    help,
    registers: [],
    async collect () {
      const current = await queueStats()
      if (current !== undefined) this.set(pick(current))
    }
  }))
  queueGauge('ltilaunch_queue_entries', 'launches queued and not finished: waiting for a worker or being spawned', (s) => s.entries)
  queueGauge('ltilaunch_queue_pending_entries', 'queued launches delivered to a worker and not yet finished', (s) => s.pending)
  queueGauge('ltilaunch_queue_oldest_entry_age_seconds', 'how long ago the oldest unfinished launch was queued (0: none)', (s) => s.oldestAgeSeconds)
  registry.registerMetric(new Gauge({
    name: 'ltilaunch_worker_busy',
    help: 'spawns this broker is working on now (at most WORKER_CONCURRENCY)',
    registers: [],
    collect () { this.set(fastify.worker.busy) }
  }))

  fastify.decorate('brokerMetrics', {
    worker: {
      reclaimed: (count: number) => reclaimed.inc(count),
      takenOver: () => takeovers.inc(),
      finished: (outcome, spawnSeconds, sinceAcceptedSeconds) => {
        spawns.inc({ outcome })
        if (spawnSeconds !== undefined) steps.observe({ step: 'spawn', outcome }, spawnSeconds)
        steps.observe({ step: 'ready', outcome }, sinceAcceptedSeconds)
      }
    },
    hubReply: (method: string, path: string, status: number | undefined) => {
      hubRequests.inc({ method, endpoint: hubEndpoint(path), status: status === undefined ? 'unreachable' : String(status) })
    }
  })

  fastify.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || request.routeOptions.url !== '/v1/launches') return
    const status = reply.statusCode
    const outcome = status === 201 ? 'created' : status < 400 ? 'repeated' : status < 500 ? 'refused' : 'failed'
    intake.inc({ outcome, code: replyCodeLabel(reply) })
    steps.observe({ step: 'intake', outcome }, reply.elapsedTime / 1000)
  })
}, { name: 'broker-metrics', fastify: '5.x', dependencies: ['ltilaunch-metrics'] })
