import { createWorkQueue, RedisStore, type WorkQueue } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import { HubIdentities } from '../lib/hub-identity.js'
import { ScoreWorker } from '../lib/score-worker.js'
import { ScoreRepository, type ScoreJob } from '../lib/scores.js'

declare module 'fastify' {
  interface FastifyInstance {
    scores: {
      /** Undefined without HUB_API_URL: the scores API is off. */
      hub?: HubIdentities
      records: ScoreRepository
      queue: WorkQueue<ScoreJob>
    }
  }
}

/**
 * The scores API's parts: the hub check of a notebook's token, the score
 * records, the durable queue (service-kit's: a Redis Stream under the
 * store's prefix when Redis is configured) and the worker that posts.
 */
export default fp(async function scoresPlugin (fastify) {
  const { config, store, log } = fastify
  let lastWarning = 0
  const queue = await createWorkQueue<ScoreJob>({
    settings: config,
    prefix: store instanceof RedisStore ? store.prefix : config.REDIS_KEY_PREFIX ?? 'ltilaunch:tool-auth:',
    stream: 'scores',
    group: 'score-posters',
    claimIdleMs: config.SCORE_CLAIM_IDLE_MS,
    connectionName: 'tool-auth-scores',
    onError: (err) => {
      if (Date.now() - lastWarning < 5000) return
      lastWarning = Date.now()
      log.warn({ err: err.message }, 'score queue redis connection error')
    }
  })
  const records = new ScoreRepository(store, config.SCORE_RECORD_TTL)
  const hub = config.HUB_API_URL === undefined
    ? undefined
    : new HubIdentities({ apiUrl: config.HUB_API_URL, store, cacheSeconds: config.HUB_TOKEN_CACHE_SECONDS, timeoutMs: config.PLATFORM_TIMEOUT_MS })
  fastify.decorate('scores', { records, queue, ...(hub !== undefined ? { hub } : {}) })
  const worker = new ScoreWorker({
    queue,
    store,
    scores: records,
    platforms: fastify.platforms,
    tokens: fastify.platformTokens,
    log,
    concurrency: config.SCORE_WORKER_CONCURRENCY,
    claimIdleMs: config.SCORE_CLAIM_IDLE_MS,
    maxAttempts: config.SCORE_MAX_ATTEMPTS,
    retryBaseMs: config.SCORE_RETRY_BASE_MS,
    retryMaxMs: config.SCORE_RETRY_MAX_MS
  })
  fastify.addReadinessCheck('score-queue', async () => await queue.ping())
  fastify.addHook('onReady', async () => worker.start())
  fastify.addHook('onClose', async () => {
    await worker.stop()
    await queue.close()
  })
}, { name: 'tool-auth-scores', dependencies: ['tool-auth-platforms', 'tool-auth-platform-services', 'ltilaunch-health'] })
