import type { AuditTrail } from '@ltilaunch/service-kit'
import { launchActor, launchTarget } from '../launches/audit.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { inSpan, type TraceSpan as Span } from '@ltilaunch/service-kit'
import type { FastifyBaseLogger } from 'fastify'
import { SpawnFailed, type SpawnDriver } from '../drivers/driver.js'
import { addProgress, LaunchWriter, TERMINAL, type LaunchRepository, type StoredLaunch } from '../launches/records.js'
import type { SpawnEntry, SpawnQueue } from '../queue/spawn-job.js'

export interface WorkerOptions {
  queue: SpawnQueue
  launches: LaunchRepository
  driver: SpawnDriver
  log: FastifyBaseLogger
  /** Where a server's start or failure is recorded for the audit trail. */
  audit?: AuditTrail
  concurrency: number
  /** Lease life and the idle time after which another consumer claims an entry. */
  claimIdleMs: number
  spawnTimeoutMs: number
  maxDeliveries: number
  /** How long one blocked read waits for new work. */
  blockMs?: number
  /** Told what the worker does, for metrics. */
  events?: WorkerEvents
}

/** What a worker tells its metrics. */
export interface WorkerEvents {
  /** Entries of a dead consumer claimed by this one. */
  reclaimed: (count: number) => void
  /** A launch another worker had begun is taken over (delivered again). */
  takenOver: () => void
  /**
   * A launch ended: ready, failed, or timed out; with how long its spawn ran
   * (undefined if it never began) and how long since it was accepted.
   */
  finished: (outcome: 'ready' | 'failed' | 'timeout', spawnSeconds: number | undefined, sinceAcceptedSeconds: number) => void
}

/** Why a spawn was cut short; only a timeout fails the launch. */
class SpawnTimeout extends Error {}
class LeaseLost extends Error {}
class ShuttingDown extends Error {}

/**
 * Takes launches off the queue and spawns them, WORKER_CONCURRENCY at a
 * time: new entries by a blocking read, and entries of dead consumers by
 * reclaiming them. See service-kit's queue (queue.ts) for the rule that keeps two workers from
 * running one launch.
 */
export class Worker {
  readonly #options: WorkerOptions
  readonly #jobs = new Map<string, { launchId: string, abort: AbortController, done: Promise<void> }>()
  #stopping = false
  readonly #stopped = new AbortController()
  #loops: Array<Promise<void>> = []
  #slotFreed: (() => void) | undefined
  #lastError = 0

  constructor (options: WorkerOptions) {
    this.#options = options
  }

  get busy (): number {
    return this.#jobs.size
  }

  start (): void {
    if (this.#options.concurrency <= 0) return
    this.#loops = [this.#readLoop(), this.#reclaimLoop()]
  }

  /** Stops taking work and cuts running spawns short; their entries stay queued for another broker. */
  async stop (): Promise<void> {
    this.#stopping = true
    this.#stopped.abort()
    this.#slotFreed?.()
    this.#options.queue.interrupt()
    for (const job of this.#jobs.values()) job.abort.abort(new ShuttingDown())
    await Promise.allSettled([...this.#loops, ...[...this.#jobs.values()].map((job) => job.done)])
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
        const entries = await this.#options.queue.read(this.#free, this.#options.blockMs ?? 2000)
        for (const entry of entries) this.#dispatch(entry)
      } catch (err) {
        if (this.#stopping) break
        this.#warn(err, 'cannot read the launch queue; trying again')
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
        const entries = await this.#options.queue.reclaim(this.#free)
        if (entries.length > 0) this.#options.events?.reclaimed(entries.length)
        for (const entry of entries) {
          this.#options.log.info({ launch: entry.payload.launchId }, 'claimed a launch whose broker stopped answering')
          this.#dispatch(entry)
        }
      } catch (err) {
        this.#warn(err, 'cannot reclaim idle launches; trying again')
      }
    }
  }

  async #pause (ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stopped.signal }).catch(() => {})
  }

  #dispatch (entry: SpawnEntry): void {
    // Our own entry, reclaimed while we still work on it: nothing to do.
    if (this.#jobs.has(entry.entryId)) return
    // Another entry of a launch this process is working on runs after it (and then finds it finished).
    const before = [...this.#jobs.values()].filter((job) => job.launchId === entry.payload.launchId).map((job) => job.done)
    const abort = new AbortController()
    const done = Promise.allSettled(before)
      .then(async () => { if (!abort.signal.aborted) await this.#handleInSpan(entry, abort) })
      .catch((err: unknown) => this.#options.log.error({ err, launch: entry.payload.launchId }, 'launch handling failed'))
      .finally(() => {
        this.#jobs.delete(entry.entryId)
        this.#slotFreed?.()
      })
    this.#jobs.set(entry.entryId, { launchId: entry.payload.launchId, abort, done })
  }

  /** One span per delivery, in the trace of the request that queued the entry (its traceparent), whichever replica runs it. */
  async #handleInSpan (entry: SpawnEntry, abort: AbortController): Promise<void> {
    const { traceparent, attempt } = entry.payload
    await inSpan('launch.spawn', { ...(traceparent === undefined ? {} : { traceparent }), attributes: { 'launch.attempt': attempt } }, async (span) => {
      await this.#handle(entry, abort, span)
    })
  }

  async #handle (entry: SpawnEntry, abort: AbortController, span: Span): Promise<void> {
    const { queue, launches, driver, log, claimIdleMs } = this.#options
    let leased: boolean
    try {
      leased = await queue.acquireLease(entry.payload.launchId, claimIdleMs)
    } catch (err) {
      this.#warn(err, 'cannot take a launch lease; the launch stays queued')
      return
    }
    if (!leased) {
      // A live worker holds it; it acknowledges the entry when it is done.
      log.debug({ launch: entry.payload.launchId }, 'launch is leased by another worker; leaving it')
      return
    }
    const beat = async (): Promise<void> => {
      try {
        if (!(await queue.renewLease(entry.payload.launchId, claimIdleMs))) abort.abort(new LeaseLost())
        else await queue.touch(entry.entryId)
      } catch (err) {
        this.#warn(err, 'cannot renew a launch lease')
      }
    }
    const heartbeat = setInterval(() => { beat().catch(() => {}) }, Math.max(50, Math.floor(claimIdleMs / 3)))
    const timeout = setTimeout(() => abort.abort(new SpawnTimeout()), this.#options.spawnTimeoutMs)
    let launch: StoredLaunch | undefined
    let writer: LaunchWriter | undefined
    // The acknowledgement releases the lease in the same round trip; if it fails, the lease is released on its own below.
    let released = false
    let spawnStarted: number | undefined
    const spawnSeconds = (): number | undefined => spawnStarted === undefined ? undefined : (performance.now() - spawnStarted) / 1000
    const ack = async (): Promise<void> => { released = await this.#ack(entry) }
    try {
      launch = await launches.get(entry.payload.launchId)
      if (!launch || launch.attempt !== entry.payload.attempt || TERMINAL.has(launch.status)) {
        // Expired, retried since (the retry has its own entry), or finished by a worker that died before acknowledging.
        await ack()
        return
      }
      // Every write of the record from here on goes through the writer, one after another.
      const current = launch
      const record = new LaunchWriter(launches, current)
      writer = record
      launch.deliveries += 1
      if (launch.deliveries > 1) this.#options.events?.takenOver()
      if (launch.deliveries > this.#options.maxDeliveries) {
        await this.#fail(launch, record, `The launch was taken up ${launch.deliveries - 1} times without finishing; giving up.`)
        await ack()
        return
      }
      launch.status = 'spawning'
      addProgress(launch, launch.deliveries > 1 ? 'Picked up again after the broker working on it stopped' : 'Starting your server', 1)
      // Awaited: the raised delivery count is recorded before the hub is asked anything.
      await record.save()
      spawnStarted = performance.now()
      const result = await driver.spawn(launch, {
        signal: abort.signal,
        progress: async (message, percent) => {
          // The spawn stops while its record cannot be written (Redis is away), as it did when each message was awaited.
          if (record.failure !== undefined) throw record.failure
          addProgress(current, message, percent)
          // Not awaited: messages that come while a write is in flight share the next write.
          record.save().catch(() => {})
        }
      })
      launch.status = 'ready'
      launch.serverName = result.serverName
      if (result.serverUrl) launch.serverUrl = result.serverUrl
      if (result.redirectUrl) launch.redirectUrl = result.redirectUrl
      if (result.dryRun) launch.dryRun = result.dryRun
      addProgress(launch, result.dryRun ? 'Dry run finished' : 'Your server is ready', 100)
      // Written after every progress write before it, and done before the entry is acknowledged.
      await record.save()
      await ack()
      this.#options.events?.finished('ready', spawnSeconds(), sinceAccepted(launch))
      log.info({ launch: launch.id, user: launch.username, image: launch.image, server: launch.serverName }, 'launch ready')
      this.#options.audit?.record({ type: 'broker.server', outcome: 'success', actor: launchActor(launch.request), target: launchTarget(launch) })
    } catch (err) {
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : undefined
      if (launch && writer && reason instanceof SpawnTimeout) {
        await this.#fail(launch, writer, `The server did not become ready within ${Math.round(this.#options.spawnTimeoutMs / 1000)} seconds.`, 'timeout', spawnSeconds())
        await ack()
      } else if (reason instanceof ShuttingDown || reason instanceof LeaseLost) {
        // Left on the queue: another worker claims it once it has been idle long enough.
        log.warn({ launch: entry.payload.launchId, why: reason.constructor.name }, 'spawn cut short; the launch stays queued')
      } else if (launch && writer && err instanceof SpawnFailed) {
        await this.#fail(launch, writer, err.message, 'failed', spawnSeconds())
        await ack()
      } else if (launch && writer && !isStoreError(err)) {
        log.error({ err, launch: launch.id }, 'unexpected error while spawning')
        await this.#fail(launch, writer, 'The broker hit an unexpected error while starting your server.', 'failed', spawnSeconds())
        await ack()
      } else {
        // Redis is away: the entry stays pending and is taken up again later.
        this.#warn(err, 'cannot record a launch; it stays queued')
      }
    } finally {
      if (launch) span.setAttribute('launch.status', launch.status)
      clearInterval(heartbeat)
      clearTimeout(timeout)
      // No write of this worker may land after the lease is gone.
      await writer?.settled()
      if (!released) await queue.releaseLease(entry.payload.launchId).catch(() => {})
    }
  }

  // A lost acknowledgement is harmless: the entry is claimed again later and dropped, its launch being finished.
  // Returns whether the lease went with it.
  async #ack (entry: SpawnEntry): Promise<boolean> {
    try {
      await this.#options.queue.ack(entry.entryId, entry.payload.launchId)
      return true
    } catch (err) {
      this.#warn(err, 'cannot acknowledge a queue entry; it will be dropped when claimed again')
      return false
    }
  }

  async #fail (launch: StoredLaunch, writer: LaunchWriter, reason: string, outcome: 'failed' | 'timeout' = 'failed', spawnSeconds?: number): Promise<void> {
    launch.status = 'failed'
    launch.reason = reason
    addProgress(launch, `Failed: ${reason}`, 100)
    await writer.save()
    this.#options.events?.finished(outcome, spawnSeconds, sinceAccepted(launch))
    this.#options.log.warn({ launch: launch.id, user: launch.username, reason }, 'launch failed')
    this.#options.audit?.record({ type: 'broker.server', outcome: 'failure', error_code: 'BROKER_SPAWN_FAILED', actor: launchActor(launch.request), target: launchTarget(launch) })
  }

  // One warning per few seconds while Redis is away, not one per loop.
  #warn (err: unknown, message: string): void {
    const now = Date.now()
    if (now - this.#lastError < 5000) return
    this.#lastError = now
    this.#options.log.warn({ err: (err as Error).message }, message)
  }
}

function sinceAccepted (launch: StoredLaunch): number {
  return Math.max(0, (Date.now() - Date.parse(launch.createdAt)) / 1000)
}

function isStoreError (err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code === 'LTILAUNCH_STORE_UNAVAILABLE'
}
