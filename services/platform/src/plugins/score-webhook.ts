import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { LineItem, ScoreRecord, ServiceContext } from '../lib/services.js'
import { serviceUrls } from '../lib/services.js'
import { SIGNATURE_HEADER, signatureHeader } from '../lib/webhook-signature.js'
import type { CourseMember } from './services.js'

/** A score on its way to the host site: kept in the store until the host answers 2xx, so a restart loses none. */
interface Delivery {
  id: string
  body: string
  attempts: number
  /** When the next attempt is due (ms since the epoch). */
  nextAt: number
  lastError?: string
}

export interface ScoreEvent {
  context: ServiceContext
  lineItem: LineItem
  score: ScoreRecord
  member: CourseMember
}

export interface ScoreWebhook {
  /** Keeps the score for delivery and tries at once; nothing when no webhook is configured. */
  enqueue: (event: ScoreEvent) => Promise<void>
  /** Tries every delivery that is due (the timer calls it; tests may too). */
  deliverDue: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    scoreWebhook: ScoreWebhook
  }
}

/** Deliveries waiting (or waiting again) for the host site. */
export const WEBHOOK_QUEUE_MAP = 'svc:webhook:queue'
/** Deliveries given up after the last attempt: kept for an operator, never dropped. */
export const WEBHOOK_FAILED_MAP = 'svc:webhook:failed'
const lockKey = (id: string): string => `svc:webhook:lock:${id}`
const ATTEMPT_TIMEOUT_MS = 10_000
const POLL_MS = 1000
const MAX_DELAY_SECONDS = 3600

/**
 * The signed score webhook: each accepted score is POSTed (JSON) to
 * PLATFORM_SCORE_WEBHOOK_URL with an HMAC-SHA256 signature. A failed
 * attempt is retried with doubling delays, from the store, by whichever
 * replica is up; one attempt at a time per delivery (a short lock).
 */
export default fp(async function scoreWebhookPlugin (fastify) {
  const { config, store, log } = fastify
  const url = config.PLATFORM_SCORE_WEBHOOK_URL
  const secret = config.PLATFORM_SCORE_WEBHOOK_SECRET
  const inFlight = new Set<Promise<void>>()

  async function attempt (id: string): Promise<void> {
    if (url === undefined || secret === undefined) return
    // The lock outlives one attempt's timeout, so two replicas never send the same delivery at once.
    if (!await store.claim(lockKey(id), Math.ceil(ATTEMPT_TIMEOUT_MS / 1000) + 5)) return
    try {
      const delivery = await store.mapGet<Delivery>(WEBHOOK_QUEUE_MAP, id)
      if (delivery === undefined || delivery.nextAt > Date.now()) return
      let problem: string | undefined
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'ltilaunch-webhook-id': delivery.id,
            [SIGNATURE_HEADER]: signatureHeader(secret, delivery.body, Math.floor(Date.now() / 1000))
          },
          body: delivery.body,
          // A redirect is a failure to retry, not a second address that gets the signed body.
          redirect: 'manual',
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)
        })
        await response.body?.cancel()
        if (!response.ok) problem = `the host answered ${response.status}`
      } catch (err) {
        problem = (err as Error).message
      }
      if (problem === undefined) {
        await store.mapDelete(WEBHOOK_QUEUE_MAP, id)
        log.info({ delivery: id, attempts: delivery.attempts + 1 }, 'score webhook delivered')
        return
      }
      const attempts = delivery.attempts + 1
      if (attempts >= config.PLATFORM_SCORE_WEBHOOK_ATTEMPTS) {
        await store.mapSet(WEBHOOK_FAILED_MAP, id, { ...delivery, attempts, lastError: problem })
        await store.mapDelete(WEBHOOK_QUEUE_MAP, id)
        log.error({ delivery: id, attempts, reason: problem }, 'score webhook given up; the delivery is kept in the failed map')
        return
      }
      const delay = Math.min(MAX_DELAY_SECONDS, config.PLATFORM_SCORE_WEBHOOK_BACKOFF * 2 ** (attempts - 1))
      await store.mapSet(WEBHOOK_QUEUE_MAP, id, { ...delivery, attempts, nextAt: Date.now() + delay * 1000, lastError: problem })
      log.warn({ delivery: id, attempts, retryInSeconds: delay, reason: problem }, 'score webhook failed; it will be retried')
    } finally {
      await store.delete(lockKey(id))
    }
  }

  const track = (work: Promise<void>): void => {
    const tracked = work.catch((err: unknown) => { log.warn({ err }, 'score webhook attempt failed to run') }).finally(() => inFlight.delete(tracked))
    inFlight.add(tracked)
  }

  async function deliverDue (): Promise<void> {
    if (url === undefined) return
    const now = Date.now()
    const due = Object.values(await store.mapAll<Delivery>(WEBHOOK_QUEUE_MAP)).filter((delivery) => delivery.nextAt <= now)
    await Promise.all(due.map(async (delivery) => await attempt(delivery.id)))
  }

  fastify.decorate('scoreWebhook', {
    async enqueue ({ context, lineItem, score, member }) {
      if (url === undefined) return
      const id = randomUUID()
      const body = JSON.stringify({
        type: 'score',
        id,
        course: context,
        lineItem: { id: serviceUrls(config.publicUrl, context.id).lineItem(lineItem.id), label: lineItem.label, scoreMaximum: lineItem.scoreMaximum, ...(lineItem.resourceLinkId === undefined ? {} : { resourceLinkId: lineItem.resourceLinkId }) },
        tool: { clientId: score.clientId },
        // The host site's own id of the person, where the launch came from its launch API.
        user: { sub: member.sub, ...(member.localId.startsWith('api:') ? { hostUserId: member.localId.slice('api:'.length) } : {}) },
        score: {
          ...(score.scoreGiven === undefined ? {} : { scoreGiven: score.scoreGiven, scoreMaximum: score.scoreMaximum }),
          activityProgress: score.activityProgress,
          gradingProgress: score.gradingProgress,
          timestamp: score.timestamp,
          ...(score.comment === undefined ? {} : { comment: score.comment })
        }
      })
      await store.mapSet(WEBHOOK_QUEUE_MAP, id, { id, body, attempts: 0, nextAt: Date.now() } satisfies Delivery)
      track(attempt(id))
    },
    deliverDue
  } satisfies ScoreWebhook)

  if (url !== undefined) {
    let polling = false
    const timer = setInterval(() => {
      if (polling) return
      polling = true
      track(deliverDue().finally(() => { polling = false }))
    }, POLL_MS)
    timer.unref()
    fastify.addHook('onClose', async () => {
      clearInterval(timer)
      await Promise.allSettled([...inFlight])
    })
  }
}, { name: 'platform-score-webhook', fastify: '5.x', dependencies: ['ltilaunch-store'] })
