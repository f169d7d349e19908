import type { LaunchProgress, LaunchRecord, LaunchStatus, PendingLaunchRequest } from '@ltilaunch/claims'
import type { Store, StoreOperation } from '@ltilaunch/service-kit'

/** How many progress messages a record keeps (the newest). */
export const MAX_PROGRESS = 40

/** What the dry-run driver would have started, for its page. */
export interface DryRunSummary {
  user: string
  role: string
  admin: boolean
  groups: string[]
  course?: string
  image: string
  serverName: string
  userOptions: Record<string, unknown>
}

/**
 * A launch as the broker keeps it: the public record plus what the worker
 * needs. Only the worker that holds the launch's lease writes it (the retry
 * route writes a failed one, which no worker holds).
 */
export interface StoredLaunch extends LaunchRecord {
  /** The request, without its `claims` (the hub does not need them). */
  request: Omit<PendingLaunchRequest, 'claims'>
  alias?: string
  /** Increased by each retry; a queue entry of an older attempt is stale. */
  attempt: number
  /** How many times a worker took up this attempt (a crash leaves it raised). */
  deliveries: number
  /** Where the browser goes once the server is ready (the hub's login, next=the server). */
  redirectUrl?: string
  driver: 'dry-run' | 'jupyterhub'
  dryRun?: DryRunSummary
  /** Milliseconds since the epoch; the TTL counts from here. */
  createdMs: number
  /** When the latest retry began (ISO 8601), absent for the first attempt: the progress bar counts from there. */
  attemptStartedAt?: string
  /** Raised by every save, so that a reader tells two writes of one millisecond apart. */
  revision?: number
}

const key = (id: string): string => `launch:${id}`

/** Launch records in the store, each living LAUNCH_TTL seconds from its creation. */
export class LaunchRepository {
  constructor (private readonly store: Store, private readonly ttlSeconds: number) {}

  /** Stores a new record; false when the id is taken (it never is: ids are random). */
  async create (launch: StoredLaunch): Promise<boolean> {
    return await this.store.putNew(key(launch.id), launch, this.ttlSeconds)
  }

  /** `create` as an operation of a store batch (its result: whether it stored the record). */
  createOperation (launch: StoredLaunch): StoreOperation {
    return { op: 'putNew', key: key(launch.id), value: launch, ttlSeconds: this.ttlSeconds }
  }

  /** Deletes a record, as an operation of a store batch. */
  deleteOperation (id: string): StoreOperation {
    return { op: 'delete', key: key(id) }
  }

  async get (id: string): Promise<StoredLaunch | undefined> {
    return await this.store.get<StoredLaunch>(key(id))
  }

  /** Writes the record back, keeping its original expiry. */
  async save (launch: StoredLaunch): Promise<void> {
    launch.updatedAt = new Date().toISOString()
    launch.revision = (launch.revision ?? 0) + 1
    const left = this.ttlSeconds - Math.floor((Date.now() - launch.createdMs) / 1000)
    // A record that outlived its TTL while a worker held it still gets a minute to be read.
    await this.store.set(key(launch.id), launch, Math.max(left, 60))
  }
}

/**
 * Writes one launch as the worker holding its lease changes it. At most one
 * write is in flight and one waits: a change made while a write is in flight
 * joins the waiting write, which saves the record as it is when it starts.
 * Progress that comes in a burst (the dry run, or events the hub sends
 * together) costs two writes instead of one each, and no message is lost,
 * since every write carries the whole record (its newest MAX_PROGRESS
 * messages). Messages that come seconds apart are each written.
 */
export class LaunchWriter {
  readonly #launches: LaunchRepository
  readonly #launch: StoredLaunch
  /** The last write scheduled (in flight or waiting); settles, never rejects. */
  #tail: Promise<void> | undefined
  /** The write waiting to start, which later changes join. */
  #waiting: Promise<void> | undefined
  #failure: unknown

  constructor (launches: LaunchRepository, launch: StoredLaunch) {
    this.#launches = launches
    this.#launch = launch
  }

  /**
   * Writes the record (soon). Resolves when a write that includes every
   * change made before the call is done; rejects when that write failed.
   */
  async save (): Promise<void> {
    if (this.#waiting) return await this.#waiting
    // With nothing in flight, the write starts once the current burst of
    // changes is made (the next turn of the event loop); otherwise, after
    // the one in flight.
    const before = this.#tail ?? new Promise<void>((resolve) => setImmediate(resolve))
    const write = before.then(async () => {
      this.#waiting = undefined
      try {
        await this.#launches.save(this.#launch)
        this.#failure = undefined
      } catch (err) {
        this.#failure = err
        throw err
      }
    })
    this.#waiting = write
    const tail: Promise<void> = write.catch(() => {}).finally(() => {
      if (this.#tail === tail) this.#tail = undefined
    })
    this.#tail = tail
    return await write
  }

  /** The error of the latest write when it failed; cleared by a write that succeeds. */
  get failure (): unknown {
    return this.#failure
  }

  /** Resolves once no write is in flight or waiting. */
  async settled (): Promise<void> {
    while (this.#tail) await this.#tail
  }
}

export function addProgress (launch: StoredLaunch, message: string, percent?: number): LaunchProgress {
  const entry: LaunchProgress = { at: new Date().toISOString(), message }
  if (percent !== undefined && Number.isFinite(percent)) entry.percent = Math.max(0, Math.min(100, Math.round(percent)))
  launch.progress.push(entry)
  if (launch.progress.length > MAX_PROGRESS) launch.progress.splice(0, launch.progress.length - MAX_PROGRESS)
  return entry
}

export function setStatus (launch: StoredLaunch, status: LaunchStatus): void {
  launch.status = status
}

export const TERMINAL: ReadonlySet<LaunchStatus> = new Set(['ready', 'failed'])

/** The record as `GET /v1/launches/:id` shows it. */
export function publicRecord (launch: StoredLaunch): LaunchRecord {
  const out: LaunchRecord = {
    id: launch.id,
    status: launch.status,
    username: launch.username,
    role: launch.role,
    image: launch.image,
    serverName: launch.serverName,
    createdAt: launch.createdAt,
    updatedAt: launch.updatedAt,
    progress: launch.progress
  }
  if (launch.course) out.course = launch.course
  if (launch.serverUrl) out.serverUrl = launch.serverUrl
  if (launch.reason) out.reason = launch.reason
  return out
}
