import { setTimeout as sleep } from 'node:timers/promises'
import { createHash } from 'node:crypto'
import type { QueueEntry, Store, WorkQueue } from '@ltilaunch/service-kit'
import type { FastifyBaseLogger } from 'fastify'
import type { Platforms } from '../plugins/platforms.js'
import type { PlatformTokens } from './platform-token.js'
import { PermanentScoreError, postScore, retryDelay, RetryableScoreError, type ScoreJob, type ScoreRecord, type ScoreRepository } from './scores.js'

export interface ScoreWorkerOptions {
  queue: WorkQueue<ScoreJob>
  /** Where the line item creation locks are taken (the service's store). */
  store: Store
  scores: ScoreRepository
  platforms: Platforms
  tokens: PlatformTokens
  log: FastifyBaseLogger
  concurrency: number
  claimIdleMs: number
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  blockMs?: number
}

/**
 * Posts queued scores to the platforms, SCORE_WORKER_CONCURRENCY at a time.
 * A score whose attempt failed for a reason worth retrying stays in the
 * queue unacknowledged, with its next attempt's time in its record: it comes
 * back (reclaimed) after the claim idle time, and waits until then. Leases
 * (service-kit's queue) keep two replicas from posting one score at once.
 */
export class ScoreWorker {
  readonly #options: ScoreWorkerOptions
  readonly #jobs = new Map<string, Promise<void>>()
  readonly #stopped = new AbortController()
  #stopping = false
  #loops: Array<Promise<void>> = []
  #slotFreed: (() => void) | undefined
  #lastWarning = 0

  constructor (options: ScoreWorkerOptions) {
    this.#options = options
  }

  start (): void {
    if (this.#options.concurrency <= 0) return
    this.#loops = [this.#readLoop(), this.#reclaimLoop()]
  }

  async stop (): Promise<void> {
    this.#stopping = true
    this.#stopped.abort()
    this.#slotFreed?.()
    this.#options.queue.interrupt()
    await Promise.allSettled([...this.#loops, ...this.#jobs.values()])
  }

  get #free (): number {
    return this.#options.concurrency - this.#jobs.size
  }

  async #readLoop (): Promise<void> {
    while (!this.#stopping) {
      if (this.#free <= 0) {
        await new Promise<void>((resolve) => { this.#slotFreed = resolve })
        continue
      }
      try {
        for (const entry of await this.#options.queue.read(this.#free, this.#options.blockMs ?? 2000)) this.#dispatch(entry)
      } catch (err) {
        if (this.#stopping) break
        this.#warn(err, 'cannot read the score queue; trying again')
        await this.#pause(1000)
      }
    }
  }

  async #reclaimLoop (): Promise<void> {
    const every = Math.max(100, Math.floor(this.#options.claimIdleMs / 2))
    while (!this.#stopping) {
      await this.#pause(every)
      if (this.#stopping || this.#free <= 0) continue
      try {
        for (const entry of await this.#options.queue.reclaim(this.#free)) this.#dispatch(entry)
      } catch (err) {
        this.#warn(err, 'cannot reclaim queued scores; trying again')
      }
    }
  }

  #dispatch (entry: QueueEntry<ScoreJob>): void {
    if (this.#jobs.has(entry.entryId)) return
    const done = this.#handle(entry)
      .catch((err: unknown) => this.#warn(err, 'a score could not be handled; it stays queued'))
      .finally(() => {
        this.#jobs.delete(entry.entryId)
        this.#slotFreed?.()
      })
    this.#jobs.set(entry.entryId, done)
  }

  async #handle (entry: QueueEntry<ScoreJob>): Promise<void> {
    const { queue, scores, claimIdleMs, log } = this.#options
    const id = entry.payload.scoreId
    if (typeof id !== 'string') return await queue.ack(entry.entryId)
    if (!(await queue.acquireLease(id, claimIdleMs))) return
    let released = false
    const heartbeat = setInterval(() => {
      queue.renewLease(id, claimIdleMs).then(async () => await queue.touch(entry.entryId)).catch(() => {})
    }, Math.max(50, Math.floor(claimIdleMs / 3)))
    try {
      const record = await scores.get(id)
      if (record === undefined || record.state !== 'queued') {
        await queue.ack(entry.entryId, id)
        released = true
        return
      }
      // Not yet: left unacknowledged, it comes back after the claim idle time.
      if (record.nextAttemptAt > Date.now()) return
      const outcome = await this.#attempt(record)
      await scores.save(record)
      if (outcome !== 'retry') {
        await queue.ack(entry.entryId, id)
        released = true
      }
      log.info({ score: id, state: record.state, attempts: record.attempts, issuer: record.target.issuer }, record.state === 'queued' ? 'score attempt failed; it will be retried' : `score ${record.state}`)
    } finally {
      clearInterval(heartbeat)
      if (!released) await queue.releaseLease(id).catch(() => {})
    }
  }

  async #attempt (record: ScoreRecord): Promise<'sent' | 'failed' | 'retry'> {
    const { platforms, tokens, maxAttempts, retryBaseMs, retryMaxMs } = this.#options
    record.attempts++
    try {
      const platform = await platforms.get(record.target.issuer)
      const creating = async (key: string): Promise<boolean> =>
        await this.#options.store.putNew(`lineitem-create:${createHash('sha256').update(key).digest('base64url')}`, record.id, 60)
      await postScore(record, platform, tokens, creating)
      record.state = 'sent'
      record.sentAt = new Date().toISOString()
      delete record.lastError
      return 'sent'
    } catch (err) {
      const message = (err as Error).message
      record.lastError = message
      if (err instanceof RetryableScoreError && record.attempts < maxAttempts) {
        record.nextAttemptAt = Date.now() + retryDelay(record.attempts, retryBaseMs, retryMaxMs)
        return 'retry'
      }
      if (!(err instanceof RetryableScoreError) && !(err instanceof PermanentScoreError)) {
        // The store or an unknown issuer: not the platform's answer; retried like a platform error.
        if (record.attempts < maxAttempts) {
          record.nextAttemptAt = Date.now() + retryDelay(record.attempts, retryBaseMs, retryMaxMs)
          return 'retry'
        }
      }
      record.state = 'failed'
      return 'failed'
    }
  }

  async #pause (ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stopped.signal }).catch(() => {})
  }

  #warn (err: unknown, message: string): void {
    if (Date.now() - this.#lastWarning < 5000) return
    this.#lastWarning = Date.now()
    this.#options.log.warn({ err: (err as Error).message }, message)
  }
}
