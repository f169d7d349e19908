import { createWorkQueue } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import { spawnJobCodec, type SpawnQueue } from '../queue/spawn-job.js'

declare module 'fastify' {
  interface FastifyInstance {
    workQueue: SpawnQueue
  }
}

/**
 * The work queue (service-kit's): a Redis Stream with a consumer group when
 * Redis is configured (its own connections, under the service's key prefix),
 * the in-process queue otherwise.
 */
export default fp(async function workQueuePlugin (fastify) {
  const config = fastify.config
  let lastWarning = 0
  const queue = await createWorkQueue({
    settings: config,
    prefix: config.REDIS_KEY_PREFIX ?? 'ltilaunch:spawner-broker:',
    stream: config.QUEUE_STREAM,
    group: config.QUEUE_GROUP,
    claimIdleMs: config.QUEUE_CLAIM_IDLE_MS,
    codec: spawnJobCodec,
    connectionName: 'broker',
    onError: (err) => {
      if (Date.now() - lastWarning < 5000) return
      lastWarning = Date.now()
      fastify.log.warn({ err: err.message }, 'queue redis connection error')
    }
  })
  fastify.decorate('workQueue', queue)
  fastify.addReadinessCheck('queue', async () => await queue.ping())
  fastify.addHook('onClose', async () => await queue.close())
  fastify.log.info({ queue: queue.kind, consumer: queue.consumer }, 'launch queue ready')
}, { name: 'broker-work-queue', fastify: '5.x', dependencies: ['ltilaunch-health'] })
