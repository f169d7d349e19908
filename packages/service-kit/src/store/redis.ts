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
    const { retryStrategy, enableOfflineQueue, ...nodeOptions } = common
    return new Cluster(splitList(settings.REDIS_CLUSTER_NODES).map(hostPort), {
      enableOfflineQueue: enableOfflineQueue ?? false,
      clusterRetryStrategy: retryStrategy ?? null,
      // Reads go where the writes went: a replica may lag, and a one-time value is taken on its master.
      scaleReads: 'master',
      // The slot map is asked for again every second, not only on an error. A
      // client that saw no error since a failover would otherwise keep the old
      // master's address, and when that master comes back (it first believes
      // it still owns its slots) write to it, and those writes are lost when it
      // learns it is now a replica (e2e 21 lost a finished launch that way).
      slotsRefreshInterval: 1000,
      redisOptions: { ...nodeOptions, password: settings.REDIS_PASSWORD }
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

/** bind: the key's value if it has one, else the owner, written without a TTL; in one step. */
const BIND_SCRIPT = `local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`

/** The custom command bind runs as (EVALSHA, falling back to EVAL), defined once per client. */
interface BindCommand {
  ltilaunchBind: (key: string, value: string) => Promise<string>
}

function withBind<C extends RedisClient> (client: C): C & BindCommand {
  if (!('ltilaunchBind' in client)) client.defineCommand('ltilaunchBind', { numberOfKeys: 1, lua: BIND_SCRIPT })
  return client as C & BindCommand
}

/** The store on Redis: GETDEL for take, SET NX EX for claim, a script for bind, every key prefixed. */
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

  async bind (key: string, owner: string): Promise<string> {
    const client = withBind(this.redis)
    const raw = await this.#run(async () => await client.ltilaunchBind(this.prefix + key, JSON.stringify(owner)))
    return JSON.parse(raw) as string
  }

  async batch (operations: readonly StoreOperation[]): Promise<unknown[]> {
    if (operations.length === 0) return []
    const ttls = operations.map((operation) => 'ttlSeconds' in operation ? assertTtl(operation.ttlSeconds) : 0)
    // Keys of one batch may live on different cluster nodes, where a pipeline
    // cannot go: there they are sent side by side instead.
    if (this.redis instanceof Cluster) {
      return await Promise.all(operations.map(async (operation) => await runOperation(this, operation)))
    }
    const pipeline = withBind(this.redis).pipeline() as ReturnType<RedisClient['pipeline']> & { ltilaunchBind: (key: string, value: string) => unknown }
    operations.forEach((operation, i) => {
      const key = this.prefix + operation.key
      switch (operation.op) {
        case 'set': pipeline.set(key, JSON.stringify(operation.value), 'EX', ttls[i] as number); break
        case 'putNew': pipeline.set(key, JSON.stringify(operation.value), 'EX', ttls[i] as number, 'NX'); break
        case 'get': pipeline.get(key); break
        case 'take': pipeline.getdel(key); break
        case 'delete': pipeline.del(key); break
        case 'bind': pipeline.ltilaunchBind(key, JSON.stringify(operation.owner)); break
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
        case 'bind': return JSON.parse(reply as string)
      }
      return undefined
    })
  }

  async mapSet (map: string, field: string, value: unknown): Promise<void> {
    await this.#run(() => this.redis.hset(this.prefix + map, field, JSON.stringify(value)))
  }

  async mapGet<T> (map: string, field: string): Promise<T | undefined> {
    const raw = await this.#run(() => this.redis.hget(this.prefix + map, field))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async mapAll<T> (map: string): Promise<Record<string, T>> {
    const raw = await this.#run(() => this.redis.hgetall(this.prefix + map))
    return Object.fromEntries(Object.entries(raw).map(([field, value]) => [field, JSON.parse(value) as T]))
  }

  async mapDelete (map: string, field: string): Promise<boolean> {
    return (await this.#run(() => this.redis.hdel(this.prefix + map, field))) > 0
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
