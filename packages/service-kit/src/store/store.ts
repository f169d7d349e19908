import createError from '@fastify/error'

/**
 * Short-lived state shared by every replica of a service: OIDC state and
 * nonces, message hints, one-time codes, sessions. Values are JSON; every
 * key has a time to live, in seconds.
 */
export interface Store {
  readonly kind: 'redis' | 'memory'
  /** Stores a value that will be taken once (overwrites). */
  put (key: string, value: unknown, ttlSeconds: number): Promise<void>
  /** Atomically reads and deletes: of concurrent takers exactly one gets the value. */
  take<T = unknown> (key: string): Promise<T | undefined>
  /** Marks a key as used if it is not already (for nonces): true for the first caller only. */
  claim (key: string, ttlSeconds: number): Promise<boolean>
  /** Stores a value only if the key is absent; returns whether it did. */
  putNew (key: string, value: unknown, ttlSeconds: number): Promise<boolean>
  get<T = unknown> (key: string): Promise<T | undefined>
  set (key: string, value: unknown, ttlSeconds: number): Promise<void>
  delete (key: string): Promise<boolean>
  /**
   * Several operations in one round trip (a pipeline on Redis), in order;
   * each is atomic, the batch as a whole is not. Results match the
   * operations: undefined for set, a boolean for putNew and delete, the
   * value (or undefined) for get and take.
   */
  batch (operations: readonly StoreOperation[]): Promise<unknown[]>
  /**
   * Durable records (a Redis hash, no TTL): things an operator or a person
   * made that must outlive a restart, such as a course's deep links. Each
   * field is written and deleted atomically, so two writers never lose one
   * another's fields.
   */
  mapSet (key: string, field: string, value: unknown): Promise<void>
  /** Every field of a durable record; `{}` when there is none. */
  mapEntries<T = unknown> (key: string): Promise<Record<string, T>>
  /** Removes one field of a durable record; whether it was there. */
  mapDelete (key: string, field: string): Promise<boolean>
  /** Resolves when the backing store answers; rejects with StoreUnavailableError otherwise. */
  ping (): Promise<void>
  close (): Promise<void>
}

export type StoreOperation =
  | { op: 'set', key: string, value: unknown, ttlSeconds: number }
  | { op: 'putNew', key: string, value: unknown, ttlSeconds: number }
  | { op: 'get', key: string }
  | { op: 'take', key: string }
  | { op: 'delete', key: string }

/** One operation of a batch, by the store's own methods (where a batch cannot be one pipeline). */
export async function runOperation (store: Store, operation: StoreOperation): Promise<unknown> {
  switch (operation.op) {
    case 'set': return await store.set(operation.key, operation.value, operation.ttlSeconds)
    case 'putNew': return await store.putNew(operation.key, operation.value, operation.ttlSeconds)
    case 'get': return await store.get(operation.key)
    case 'take': return await store.take(operation.key)
    case 'delete': return await store.delete(operation.key)
  }
}

/** The store cannot be reached: callers answer 503 with Retry-After, not 500. */
export const StoreUnavailableError = createError<[string]>(
  'LTILAUNCH_STORE_UNAVAILABLE',
  'The state store (Redis) is not answering: %s',
  503
)

export function assertTtl (ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`a store TTL must be a positive number of seconds, got ${ttlSeconds}`)
  }
  return Math.ceil(ttlSeconds)
}
