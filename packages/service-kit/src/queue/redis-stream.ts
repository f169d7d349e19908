import { createRedisClient, waitForRedis, type RedisClient, type RedisSettings } from '../store/index.js'
import { consumerName, entryAgeSeconds, jsonCodec, type PayloadCodec, type QueueEntry, type QueueStats, type WorkQueue } from './queue.js'

// Extends a lease only for its holder; deletes it only for its holder.
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

type StreamEntry = [id: string, fields: string[] | null]

export interface RedisStreamQueueOptions<P> {
  settings: RedisSettings
  /** The key prefix every key of the service shares (REDIS_KEY_PREFIX). */
  prefix: string
  stream: string
  group: string
  claimIdleMs: number
  /** How payloads become stream fields; JSON in a `payload` field unless given. */
  codec?: PayloadCodec<P>
  /** Names the connections (CLIENT LIST shows `<name>-queue-…`, `<name>-reader-…`). */
  connectionName?: string
  /** Called with connection errors, which the clients retry on their own. */
  onError?: (err: Error) => void
}

/**
 * The work queue on a Redis Stream with a consumer group: XADD to queue,
 * XREADGROUP (on a connection of its own, since a blocked read holds the
 * connection) to take new entries, XAUTOCLAIM to take entries whose consumer
 * died, XACK + XDEL (and the lease's release) in one pipeline when done,
 * XCLAIM JUSTID to keep a live entry from looking idle. Leases are plain keys
 * with a PX expiry.
 */
export class RedisStreamQueue<P> implements WorkQueue<P> {
  readonly kind = 'redis'
  readonly consumer = consumerName()
  readonly #commands: RedisClient
  readonly #blocking: RedisClient
  readonly #key: string
  readonly #prefix: string
  readonly #group: string
  readonly #claimIdleMs: number
  readonly #codec: PayloadCodec<P>
  #groupReady = false
  #closed = false

  constructor (options: RedisStreamQueueOptions<P>) {
    this.#prefix = options.prefix
    this.#key = `${options.prefix}${options.stream}`
    this.#group = options.group
    this.#claimIdleMs = options.claimIdleMs
    this.#codec = options.codec ?? jsonCodec<P>()
    const name = options.connectionName ?? 'work'
    this.#commands = createRedisClient(options.settings, { connectionName: `${name}-queue-${this.consumer}` })
    // No command timeout here: a blocked XREADGROUP waits as long as it was told to.
    this.#blocking = createRedisClient(options.settings, { commandTimeout: undefined, connectionName: `${name}-reader-${this.consumer}` })
    const onError = options.onError ?? (() => {})
    this.#commands.on('error', onError)
    this.#blocking.on('error', onError)
  }

  /** Waits (a little) for both connections; they keep trying in the background. */
  async connect (timeoutMs = 1000): Promise<boolean> {
    const [a, b] = await Promise.all([waitForRedis(this.#commands, timeoutMs), waitForRedis(this.#blocking, timeoutMs)])
    return a && b
  }

  async enqueue (payload: P): Promise<string> {
    const fields = Object.entries(this.#codec.encode(payload)).flat()
    const id = await this.#commands.call('XADD', this.#key, '*', ...fields)
    return String(id)
  }

  async read (count: number, blockMs: number): Promise<Array<QueueEntry<P>>> {
    await this.#ensureGroup()
    try {
      const reply = await this.#blocking.call(
        'XREADGROUP', 'GROUP', this.#group, this.consumer, 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', this.#key, '>'
      ) as Array<[string, StreamEntry[]]> | [string, StreamEntry[]] | null
      if (reply === null) return []
      // One stream comes back as [key, entries] from this client, as a list of those from others.
      const streams = typeof reply[0] === 'string' ? [reply as [string, StreamEntry[]]] : reply as Array<[string, StreamEntry[]]>
      return streams.flatMap(([, entries]) => this.#entries(entries))
    } catch (err) {
      // The stream (and its group) vanished, as a flushed Redis does: make them again.
      if (/NOGROUP/.test((err as Error).message)) this.#groupReady = false
      throw err
    }
  }

  async reclaim (count: number): Promise<Array<QueueEntry<P>>> {
    await this.#ensureGroup()
    const out: Array<QueueEntry<P>> = []
    let cursor = '0-0'
    // Bounded: a few pages are plenty for one pass; the next pass continues.
    for (let page = 0; page < 10 && out.length < count; page++) {
      const reply = await this.#commands.call(
        'XAUTOCLAIM', this.#key, this.#group, this.consumer, String(this.#claimIdleMs), cursor, 'COUNT', String(count - out.length)
      ) as [string, StreamEntry[], string[]?]
      out.push(...this.#entries(reply[1]))
      cursor = reply[0]
      if (cursor === '0-0') break
    }
    return out
  }

  async ack (entryId: string, lease?: string): Promise<void> {
    // One round trip: XACK, XDEL and (after them, so the lease outlives the
    // entry) the lease's compare-and-delete. On a cluster the lease key lives
    // in another slot than the stream, where one pipeline cannot go.
    const releaseHere = lease !== undefined && !this.#commands.isCluster
    const pipeline = this.#commands.pipeline()
      .call('XACK', this.#key, this.#group, entryId)
      .call('XDEL', this.#key, entryId)
    if (releaseHere) pipeline.eval(RELEASE, 1, this.#lease(lease), this.consumer)
    const replies = await pipeline.exec()
    if (!replies) throw new Error('no reply to XACK + XDEL')
    for (const [err] of replies) if (err) throw err
    if (lease !== undefined && !releaseHere) await this.releaseLease(lease)
  }

  async touch (entryId: string): Promise<void> {
    await this.#commands.call('XCLAIM', this.#key, this.#group, this.consumer, '0', entryId, 'JUSTID')
  }

  async acquireLease (key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#commands.call('SET', this.#lease(key), this.consumer, 'PX', String(ttlMs), 'NX')
    return reply === 'OK'
  }

  async renewLease (key: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#commands.eval(RENEW, 1, this.#lease(key), this.consumer, String(ttlMs))) === 1
  }

  async releaseLease (key: string): Promise<void> {
    await this.#commands.eval(RELEASE, 1, this.#lease(key), this.consumer)
  }

  async stats (): Promise<QueueStats> {
    await this.#ensureGroup()
    // Acknowledged entries are deleted, so the stream holds exactly the unfinished ones, oldest first.
    const replies = await this.#commands.pipeline()
      .call('XLEN', this.#key)
      .call('XPENDING', this.#key, this.#group)
      .call('XRANGE', this.#key, '-', '+', 'COUNT', '1')
      .exec()
    if (!replies) throw new Error('no reply to XLEN + XPENDING + XRANGE')
    for (const [err] of replies) if (err) throw err
    const [length, pending, first] = replies.map(([, reply]) => reply) as [number, [number, ...unknown[]], StreamEntry[]]
    return { entries: Number(length), pending: Number(pending[0]), oldestAgeSeconds: entryAgeSeconds(first[0]?.[0]) }
  }

  interrupt (): void {
    // A blocked XREADGROUP returns when its connection goes.
    this.#blocking.disconnect()
  }

  async ping (): Promise<void> {
    await this.#commands.ping()
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#blocking.disconnect()
    try {
      await this.#commands.quit()
    } catch {
      this.#commands.disconnect()
    }
  }

  #lease (key: string): string {
    return `${this.#prefix}lease:${key}`
  }

  #entries (entries: StreamEntry[]): Array<QueueEntry<P>> {
    const out: Array<QueueEntry<P>> = []
    for (const [entryId, fields] of entries) {
      // A deleted entry still pending shows with no fields; nothing to do for it.
      if (!fields) continue
      const data: Record<string, string> = {}
      for (let i = 0; i + 1 < fields.length; i += 2) data[fields[i] as string] = fields[i + 1] as string
      const payload = this.#codec.decode(data)
      if (payload !== undefined) out.push({ entryId, payload })
    }
    return out
  }

  async #ensureGroup (): Promise<void> {
    if (this.#groupReady) return
    try {
      // From the start of the stream: work queued before any consumer ran is served too.
      await this.#commands.call('XGROUP', 'CREATE', this.#key, this.#group, '0', 'MKSTREAM')
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err
    }
    this.#groupReady = true
  }
}
