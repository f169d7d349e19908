import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'

/** One unit of work as delivered to a consumer. */
export interface QueueEntry<P> {
  /** The queue's id of the entry (a stream id on Redis). */
  entryId: string
  payload: P
}

/**
 * How a payload is written into a stream entry's fields and read back. An
 * entry whose fields do not decode (undefined) is skipped, as a deleted one is.
 */
export interface PayloadCodec<P> {
  encode (payload: P): Record<string, string>
  decode (fields: Record<string, string>): P | undefined
}

/** The default codec: the payload as JSON in one field named `payload`. */
export function jsonCodec<P> (): PayloadCodec<P> {
  return {
    encode: (payload) => ({ payload: JSON.stringify(payload) }),
    decode: (fields) => {
      if (fields.payload === undefined) return undefined
      try {
        return JSON.parse(fields.payload) as P
      } catch {
        return undefined
      }
    }
  }
}

/**
 * A durable work queue and the leases that keep two workers from running one
 * piece of work. On Redis it is a Stream read by a consumer group; without
 * Redis, an in-process queue with the same behaviour for a single instance.
 *
 * The rule that prevents doing one piece of work twice:
 *  1. an entry is delivered to one consumer (the group does that);
 *  2. before it works, a worker takes the work's lease (SET NX PX), which
 *     lives the claim idle time and is renewed while the worker is alive; the
 *     worker also touches its entry so it never looks idle;
 *  3. an entry idle longer than the claim idle time (its worker died) is
 *     claimed by another consumer, which must take the lease too: while the
 *     old worker is alive the lease is held, the claimer leaves the entry;
 *  4. with the lease, the worker reads its record of the work: finished
 *     work, or an entry of an older attempt, is acknowledged and dropped;
 *  5. a worker that fails to renew its lease stops.
 * An entry that is neither acknowledged nor touched comes back (by reclaim)
 * after the claim idle time, which also serves as a retry later.
 */
export interface WorkQueue<P> {
  readonly kind: 'redis' | 'memory'
  /** This process's consumer name (hostname, pid and a random part). */
  readonly consumer: string
  /** Adds an entry; returns its id. */
  enqueue (payload: P): Promise<string>
  /** New entries for this consumer, waiting up to blockMs for one. */
  read (count: number, blockMs: number): Promise<Array<QueueEntry<P>>>
  /** Entries idle longer than the claim time (their consumer died), now this consumer's. */
  reclaim (count: number): Promise<Array<QueueEntry<P>>>
  /**
   * Done with an entry: it leaves the queue. With `lease`, this consumer's
   * lease of that key is released after it (the same compare-and-delete as
   * releaseLease), in the same round trip where the queue can. Rejects when
   * either failed; releasing the lease again is then harmless.
   */
  ack (entryId: string, lease?: string): Promise<void>
  /** Resets an entry's idle time, so that no one claims it while it is worked on. */
  touch (entryId: string): Promise<void>
  acquireLease (key: string, ttlMs: number): Promise<boolean>
  /** Extends this consumer's lease; false when it no longer holds it. */
  renewLease (key: string, ttlMs: number): Promise<boolean>
  releaseLease (key: string): Promise<void>
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
