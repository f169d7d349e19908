import type { DryRunSummary, StoredLaunch } from '../launches/records.js'

/** What a driver may tell the worker while it spawns. */
export interface SpawnContext {
  /**
   * Records a progress message for the launch's page. It is written at once
   * unless a write of the launch is in flight; then it joins the next write
   * with whatever else comes meanwhile. Rejects when the launch cannot be
   * written (the spawn should stop).
   */
  progress: (message: string, percent?: number) => Promise<void>
  /** Aborted when the spawn times out, the lease is lost or the broker stops. */
  signal: AbortSignal
}

export interface SpawnResult {
  /** The server a new name was given (ON_IMAGE_CHANGE=new-server), else the launch's. */
  serverName: string
  /** Where the server answers, as a browser reaches it. */
  serverUrl?: string
  /** Where the progress page sends the browser: the hub's login with next= the server. */
  redirectUrl?: string
  dryRun?: DryRunSummary
}

/** Starts a launch's server somewhere: the jupyterhub driver, or dry-run. */
export interface SpawnDriver {
  readonly name: 'dry-run' | 'jupyterhub'
  spawn (launch: StoredLaunch, context: SpawnContext): Promise<SpawnResult>
}

/** The spawn failed for good; `message` is for the person who launched. */
export class SpawnFailed extends Error {
  constructor (message: string, readonly hubStatus?: number) {
    super(message)
    this.name = 'SpawnFailed'
  }
}
