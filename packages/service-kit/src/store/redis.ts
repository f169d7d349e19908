import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { splitList } from '../config.js'
import { assertTtl, runOperation, StoreUnavailableError, type Store, type StoreOperation } from './store.js'

export type RedisClient = Redis | Cluster

export interface RedisSettings {
  REDIS_URL?: string | undefined
  REDIS_SENTINELS?: string | undefined
  REDIS_SENTINEL_NAME?: string | undefined
  REDIS_CLUSTER_NODES?: string | undefined
  REDIS_PASSWORD?: string | undefined
}

/** Whether the settings name any Redis (standalone, Sentinel or Cluster). */
export function redisConfigured (settings: RedisSettings): boolean {
  return Boolean(settings.REDIS_URL ?? settings.REDIS_SENTINELS ?? settings.REDIS_CLUSTER_NODES)
}

function hostPort (entry: string): { host: string, port: number } {
  const at = entry.lastIndexOf(':')
  return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) }
}

/**
 * A Redis connection that fails fast: while Redis is away, commands are
 * refused at once (no offline queue) so requests answer 503 instead of
 * hanging, and the client keeps reconnecting in the background.
 */
export function createRedisClient (settings: RedisSettings, extra: RedisOptions = {}): RedisClient {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...extra
  }
  if (settings.REDIS_CLUSTER_NODES) {
    return new Cluster(splitList(settings.REDIS_CLUSTER_NODES).map(hostPort), {
      enableOfflineQueue: false,
      redisOptions: { ...common, password: settings.REDIS_PASSWORD }
    })
  }
  if (settings.REDIS_SENTINELS) {
    return new Redis({
      ...common,
      sentinels: splitList(settings.REDIS_SENTINELS).map(hostPort),
      name: settings.REDIS_SENTINEL_NAME ?? 'mymaster',
      password: settings.REDIS_PASSWORD,
      sentinelPassword: settings.REDIS_PASSWORD
    })
  }
  if (!settings.REDIS_URL) throw new Error('createRedisClient needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES')
  return new Redis(settings.REDIS_URL, common)
}

/** Waits until the client is ready, or gives up after `timeoutMs` (it keeps trying in the background). */
export async function waitForRedis (client: RedisClient, timeoutMs = 3000): Promise<boolean> {
  if (client.status === 'ready') return true
  return await new Promise<boolean>((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer)
      client.off('ready', onReady)
      resolve(ready)
    }
    const onReady = (): void => done(true)
    const timer = setTimeout(() => done(false), timeoutMs)
    client.on('ready', onReady)
  })
}

/** The store on Redis: GETDEL for take, SET NX EX for claim, every key prefixed. */
export class RedisStore implements Store {
  readonly kind = 'redis'
  readonly redis: RedisClient
  readonly prefix: string
  readonly #ownsClient: boolean

  constructor (redis: RedisClient, options: { prefix?: string, ownsClient?: boolean } = {}) {
    this.redis = redis
    this.prefix = options.prefix ?? ''
    this.#ownsClient = options.ownsClient ?? true
  }

  async put (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.set(key, value, ttlSeconds)
  }

  async set (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    const ttl = assertTtl(ttlSeconds)
    await this.#run(() => this.redis.set(this.prefix + key, JSON.stringify(value), 'EX', ttl))
  }

  async putNew (key: string, value: unknown, ttlSeconds: number): Promise<boolean> {
    const ttl = assertTtl(ttlSeconds)
    const reply = await this.#run(() => this.redis.set(this.prefix + key, JSON.stringify(value), 'EX', ttl, 'NX'))
    return reply === 'OK'
  }

  async claim (key: string, ttlSeconds: number): Promise<boolean> {
    return await this.putNew(key, 1, ttlSeconds)
  }

  async take<T> (key: string): Promise<T | undefined> {
    const raw = await this.#run(() => this.redis.getdel(this.prefix + key))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async get<T> (key: string): Promise<T | undefined> {
    const raw = await this.#run(() => this.redis.get(this.prefix + key))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async delete (key: string): Promise<boolean> {
    return (await this.#run(() => this.redis.del(this.prefix + key))) > 0
  }

  async batch (operations: readonly StoreOperation[]): Promise<unknown[]> {
    if (operations.length === 0) return []
    const ttls = operations.map((operation) => 'ttlSeconds' in operation ? assertTtl(operation.ttlSeconds) : 0)
    // Keys of one batch may live on different cluster nodes, where a pipeline
    // cannot go: there they are sent side by side instead.
    if (this.redis instanceof Cluster) {
      return await Promise.all(operations.map(async (operation) => await runOperation(this, operation)))
    }
    const pipeline = this.redis.pipeline()
    operations.forEach((operation, i) => {
      const key = this.prefix + operation.key
      switch (operation.op) {
        case 'set': pipeline.set(key, JSON.stringify(operation.value), 'EX', ttls[i] as number); break
        case 'putNew': pipeline.set(key, JSON.stringify(operation.value), 'EX', ttls[i] as number, 'NX'); break
        case 'get': pipeline.get(key); break
        case 'take': pipeline.getdel(key); break
        case 'delete': pipeline.del(key); break
      }
    })
    const replies = await this.#run(async () => await pipeline.exec())
    return operations.map((operation, i) => {
      const [err, reply] = replies?.[i] ?? [new Error('no reply')]
      if (err) throw new StoreUnavailableError(err.message)
      switch (operation.op) {
        case 'set': return undefined
        case 'putNew': return reply === 'OK'
        case 'get': case 'take': return reply === null ? undefined : JSON.parse(reply as string)
        case 'delete': return (reply as number) > 0
      }
      return undefined
    })
  }

  async mapSet (key: string, field: string, value: unknown): Promise<void> {
    await this.#run(() => this.redis.hset(this.prefix + key, field, JSON.stringify(value)))
  }

  async mapEntries<T> (key: string): Promise<Record<string, T>> {
    const raw = await this.#run(() => this.redis.hgetall(this.prefix + key))
    return Object.fromEntries(Object.entries(raw).map(([field, value]) => [field, JSON.parse(value) as T]))
  }

  async mapDelete (key: string, field: string): Promise<boolean> {
    return (await this.#run(() => this.redis.hdel(this.prefix + key, field))) > 0
  }

  async ping (): Promise<void> {
    await this.#run(() => this.redis.ping())
  }

  async close (): Promise<void> {
    if (!this.#ownsClient) return
    try {
      await this.redis.quit()
    } catch {
      this.redis.disconnect()
    }
  }

  async #run<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (err) {
      throw new StoreUnavailableError((err as Error).message)
    }
  }
}
