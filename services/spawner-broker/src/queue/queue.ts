import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'

/** One unit of work: spawn this attempt of this launch. */
export interface QueueEntry {
  /** The queue's id of the entry (a stream id on Redis). */
  entryId: string
  launchId: string
  attempt: number
}

/**
 * The durable work queue and the leases that keep two workers from running
 * one launch. On Redis it is a Stream read by a consumer group; without
 * Redis, an in-process queue with the same behaviour for a single instance.
 *
 * The rule that prevents a double spawn:
 *  1. an entry is delivered to one consumer (the group does that);
 *  2. before it works, a worker takes the launch's lease (SET NX PX), which
 *     lives QUEUE_CLAIM_IDLE_MS and is renewed every third of that while the
 *     worker is alive; the worker also touches its entry so it never looks idle;
 *  3. an entry idle longer than QUEUE_CLAIM_IDLE_MS (its worker died) is
 *     claimed by another consumer, which must take the lease too: while the
 *     old worker is alive the lease is held, the claimer leaves the entry;
 *  4. with the lease, the worker reads the record: a finished launch or an
 *     entry of an older attempt is acknowledged and dropped;
 *  5. a worker that fails to renew its lease stops its spawn.
 * The jupyterhub driver then looks at the hub before starting anything, so a
 * spawn the dead worker left pending is followed, not started twice.
 */
export interface WorkQueue {
  readonly kind: 'redis' | 'memory'
  /** This process's consumer name (hostname, pid and a random part). */
  readonly consumer: string
  enqueue (launchId: string, attempt: number): Promise<string>
  /** New entries for this consumer, waiting up to blockMs for one. */
  read (count: number, blockMs: number): Promise<QueueEntry[]>
  /** Entries idle longer than the claim time (their consumer died), now this consumer's. */
  reclaim (count: number): Promise<QueueEntry[]>
  /**
   * Done with an entry: it leaves the queue. With `lease`, this consumer's
   * lease of that launch is released after it (the same compare-and-delete as
   * releaseLease), in the same round trip where the queue can. Rejects when
   * either failed; releasing the lease again is then harmless.
   */
  ack (entryId: string, lease?: string): Promise<void>
  /** Resets an entry's idle time, so that no one claims it while it is worked on. */
  touch (entryId: string): Promise<void>
  acquireLease (launchId: string, ttlMs: number): Promise<boolean>
  /** Extends this consumer's lease; false when it no longer holds it. */
  renewLease (launchId: string, ttlMs: number): Promise<boolean>
  releaseLease (launchId: string): Promise<void>
  /** What the queue holds now, for metrics. */
  stats (): Promise<QueueStats>
  /** Wakes a blocked read (shutdown). */
  interrupt (): void
  ping (): Promise<void>
  close (): Promise<void>
}

export interface QueueStats {
  /** Entries not yet acknowledged: waiting for a worker, or being worked on. */
  entries: number
  /** Of those, the ones delivered to a worker (pending in the consumer group). */
  pending: number
  /** How long ago the oldest unacknowledged entry was queued (0 when none is). */
  oldestAgeSeconds: number
}

/** The age of an entry from its id, which starts with the milliseconds it was queued at (stream ids, memory ids). */
export function entryAgeSeconds (entryId: string | undefined, now = Date.now()): number {
  const queuedAt = Number((entryId ?? '').split('-')[0])
  return entryId === undefined || !Number.isFinite(queuedAt) ? 0 : Math.max(0, (now - queuedAt) / 1000)
}

export function consumerName (): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
}
