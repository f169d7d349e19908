import { assertTtl, runOperation, type Store, type StoreOperation } from './store.js'

interface Entry {
  value: string
  expiresAt: number
}

/**
 * The store of a single instance, with Redis's semantics: JSON values, TTLs,
 * atomic take and claim (one event loop, so each operation is indivisible).
 * Used when no Redis is configured; a second replica would not see its state.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly #entries = new Map<string, Entry>()
  readonly #maps = new Map<string, Map<string, string>>()
  readonly #prefix: string
  readonly #sweeper: NodeJS.Timeout
  readonly #now: () => number

  constructor (options: { prefix?: string, sweepIntervalMs?: number, now?: () => number } = {}) {
    this.#prefix = options.prefix ?? ''
    this.#now = options.now ?? Date.now
    // Expired entries nobody reads again would otherwise stay forever.
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 30_000)
    this.#sweeper.unref()
  }

  /** How many live entries it holds (for tests and metrics). */
  get size (): number {
    this.#sweep()
    return this.#entries.size
  }

  async put (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.#write(key, value, ttlSeconds)
  }

  async set (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.#write(key, value, ttlSeconds)
  }

  async putNew (key: string, value: unknown, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds)
    if (this.#read(key) !== undefined) return false
    this.#write(key, value, ttlSeconds)
    return true
  }

  async claim (key: string, ttlSeconds: number): Promise<boolean> {
    return this.putNew(key, 1, ttlSeconds)
  }

  async take<T> (key: string): Promise<T | undefined> {
    const entry = this.#read(key)
    if (entry === undefined) return undefined
    this.#entries.delete(this.#prefix + key)
    return JSON.parse(entry.value) as T
  }

  async get<T> (key: string): Promise<T | undefined> {
    const entry = this.#read(key)
    return entry === undefined ? undefined : JSON.parse(entry.value) as T
  }

  async delete (key: string): Promise<boolean> {
    const existed = this.#read(key) !== undefined
    this.#entries.delete(this.#prefix + key)
    return existed
  }

  async batch (operations: readonly StoreOperation[]): Promise<unknown[]> {
    for (const operation of operations) if ('ttlSeconds' in operation) assertTtl(operation.ttlSeconds)
    const results: unknown[] = []
    for (const operation of operations) results.push(await runOperation(this, operation))
    return results
  }

  async mapSet (key: string, field: string, value: unknown): Promise<void> {
    const map = this.#maps.get(this.#prefix + key) ?? new Map<string, string>()
    map.set(field, JSON.stringify(value))
    this.#maps.set(this.#prefix + key, map)
  }

  async mapEntries<T> (key: string): Promise<Record<string, T>> {
    const map = this.#maps.get(this.#prefix + key)
    return Object.fromEntries([...(map ?? [])].map(([field, value]) => [field, JSON.parse(value) as T]))
  }

  async mapDelete (key: string, field: string): Promise<boolean> {
    const map = this.#maps.get(this.#prefix + key)
    const existed = map?.delete(field) ?? false
    if (map?.size === 0) this.#maps.delete(this.#prefix + key)
    return existed
  }

  async ping (): Promise<void> {}

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#entries.clear()
    this.#maps.clear()
  }

  #write (key: string, value: unknown, ttlSeconds: number): void {
    const ttl = assertTtl(ttlSeconds)
    this.#entries.set(this.#prefix + key, { value: JSON.stringify(value), expiresAt: this.#now() + ttl * 1000 })
  }

  #read (key: string): Entry | undefined {
    const entry = this.#entries.get(this.#prefix + key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(this.#prefix + key)
      return undefined
    }
    return entry
  }

  #sweep (): void {
    const now = this.#now()
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key)
    }
  }
}
