import { consumerName, entryAgeSeconds, type QueueEntry, type QueueStats, type WorkQueue } from './queue.js'

interface Pending<P> {
  entry: QueueEntry<P>
  deliveredAt: number
}

/**
 * The queue of a single instance: the same contract as the Redis Stream
 * (delivery, acknowledgement, reclaiming idle entries, leases), in memory.
 */
export class MemoryQueue<P> implements WorkQueue<P> {
  readonly kind = 'memory'
  readonly consumer = consumerName()
  readonly #fresh: Array<QueueEntry<P>> = []
  readonly #pending = new Map<string, Pending<P>>()
  readonly #leases = new Map<string, number>()
  readonly #claimIdleMs: number
  #sequence = 0
  #wake: (() => void) | undefined

  constructor (options: { claimIdleMs: number }) {
    this.#claimIdleMs = options.claimIdleMs
  }

  async enqueue (payload: P): Promise<string> {
    const entryId = `${Date.now()}-${this.#sequence++}`
    // A copy, as a stream would keep: later changes to the caller's object do not reach the queue.
    this.#fresh.push({ entryId, payload: structuredClone(payload) })
    this.#wake?.()
    return entryId
  }

  async read (count: number, blockMs: number): Promise<Array<QueueEntry<P>>> {
    if (this.#fresh.length === 0 && blockMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, blockMs)
        function done (): void {
          clearTimeout(timer)
          resolve()
        }
        this.#wake = done
      })
      this.#wake = undefined
    }
    const taken = this.#fresh.splice(0, count)
    for (const entry of taken) this.#pending.set(entry.entryId, { entry, deliveredAt: Date.now() })
    return taken
  }

  async reclaim (count: number): Promise<Array<QueueEntry<P>>> {
    const out: Array<QueueEntry<P>> = []
    const now = Date.now()
    for (const pending of this.#pending.values()) {
      if (out.length >= count) break
      if (now - pending.deliveredAt >= this.#claimIdleMs) {
        pending.deliveredAt = now
        out.push(pending.entry)
      }
    }
    return out
  }

  async ack (entryId: string, lease?: string): Promise<void> {
    this.#pending.delete(entryId)
    if (lease !== undefined) await this.releaseLease(lease)
  }

  async touch (entryId: string): Promise<void> {
    const pending = this.#pending.get(entryId)
    if (pending) pending.deliveredAt = Date.now()
  }

  async acquireLease (key: string, ttlMs: number): Promise<boolean> {
    const until = this.#leases.get(key)
    if (until !== undefined && until > Date.now()) return false
    this.#leases.set(key, Date.now() + ttlMs)
    return true
  }

  async renewLease (key: string, ttlMs: number): Promise<boolean> {
    const until = this.#leases.get(key)
    if (until === undefined || until <= Date.now()) return false
    this.#leases.set(key, Date.now() + ttlMs)
    return true
  }

  async releaseLease (key: string): Promise<void> {
    this.#leases.delete(key)
  }

  async stats (): Promise<QueueStats> {
    const ids = [...this.#fresh.map((entry) => entry.entryId), ...this.#pending.keys()]
    const oldest = ids.reduce<string | undefined>((min, id) => min === undefined || Number(id.split('-')[0]) < Number(min.split('-')[0]) ? id : min, undefined)
    return { entries: ids.length, pending: this.#pending.size, oldestAgeSeconds: entryAgeSeconds(oldest) }
  }

  interrupt (): void {
    this.#wake?.()
  }

  async ping (): Promise<void> {}

  async close (): Promise<void> {
    this.interrupt()
  }
}
