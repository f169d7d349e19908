import type { PayloadCodec, QueueEntry, WorkQueue } from '@ltilaunch/service-kit'

/** One unit of the broker's work: spawn this attempt of this launch. */
export interface SpawnJob {
  launchId: string
  attempt: number
  /**
   * The W3C traceparent of the request that queued it (absent without
   * tracing): the worker's spans continue that trace, in whichever broker
   * replica takes the entry.
   */
  traceparent?: string
}

export type SpawnQueue = WorkQueue<SpawnJob>
export type SpawnEntry = QueueEntry<SpawnJob>

/**
 * The stream fields of a spawn job, `launch` and `attempt`, as the broker has
 * always written them: entries queued by an older broker are served by a newer one.
 */
export const spawnJobCodec: PayloadCodec<SpawnJob> = {
  encode: (job) => ({ launch: job.launchId, attempt: String(job.attempt), ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }) }),
  decode: (fields) => {
    if (!fields.launch) return undefined
    const job: SpawnJob = { launchId: fields.launch, attempt: Number(fields.attempt ?? 0) }
    if (fields.traceparent !== undefined) job.traceparent = fields.traceparent
    return job
  }
}
