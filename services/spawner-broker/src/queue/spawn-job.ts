import type { PayloadCodec, QueueEntry, WorkQueue } from '@ltilaunch/service-kit'

/** One unit of the broker's work: spawn this attempt of this launch. */
export interface SpawnJob {
  launchId: string
  attempt: number
}

export type SpawnQueue = WorkQueue<SpawnJob>
export type SpawnEntry = QueueEntry<SpawnJob>

/**
 * The stream fields of a spawn job, `launch` and `attempt`, as the broker has
 * always written them: entries queued by an older broker are served by a newer one.
 */
export const spawnJobCodec: PayloadCodec<SpawnJob> = {
  encode: (job) => ({ launch: job.launchId, attempt: String(job.attempt) }),
  decode: (fields) => fields.launch ? { launchId: fields.launch, attempt: Number(fields.attempt ?? 0) } : undefined
}
