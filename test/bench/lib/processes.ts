/**
 * The bench starts its processes with the end-to-end harness
 * (test/harness/processes.ts): each in its own process group, logged to a
 * file, ready when a URL answers, and stopped by stopAll() on success, on
 * error and on SIGINT/SIGTERM (and, as a last resort, when this process
 * exits).
 */
import { startProcess as harnessStart, type ManagedProcess, type StartOptions } from '../../harness/processes.js'

export { freePort, stopAll } from '../../harness/processes.js'
export type BenchProcess = ManagedProcess

/** Starts a process and waits until its ready URL answers (any status below 500). */
export async function startProcess (options: StartOptions): Promise<BenchProcess> {
  return await harnessStart(undefined, options)
}
