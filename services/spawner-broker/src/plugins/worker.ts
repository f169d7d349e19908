import fp from 'fastify-plugin'
import { Worker } from '../worker/worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    worker: Worker
  }
}

/**
 * The spawn worker of this process: starts once the app is ready and stops
 * before the queue and the store close, leaving unfinished launches queued.
 */
export default fp(async function workerPlugin (fastify) {
  const config = fastify.config
  const worker = new Worker({
    queue: fastify.workQueue,
    launches: fastify.launches,
    driver: fastify.spawnDriver,
    log: fastify.log.child({ part: 'worker' }),
    audit: fastify.audit,
    concurrency: config.WORKER_CONCURRENCY,
    claimIdleMs: config.QUEUE_CLAIM_IDLE_MS,
    spawnTimeoutMs: config.SPAWN_TIMEOUT * 1000,
    maxDeliveries: config.QUEUE_MAX_DELIVERIES,
    events: fastify.brokerMetrics.worker
  })
  fastify.decorate('worker', worker)
  fastify.addHook('onReady', async () => worker.start())
  fastify.addHook('preClose', async () => await worker.stop())
}, { name: 'broker-worker', fastify: '5.x', dependencies: ['broker-work-queue', 'broker-launches', 'broker-spawn-driver', 'broker-metrics'] })
