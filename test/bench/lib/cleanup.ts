import type { Teardown } from '../../harness/processes.js'

/**
 * A stand-in for a tap test's teardown, for the harness helpers that take
 * one (startJupyterHub, startLtijsTool, createDatabase): what they register
 * runs, last first, when the bench calls run().
 */
export class Cleanup implements Teardown {
  readonly #fns: Array<() => unknown> = []

  teardown (fn: () => unknown): void {
    this.#fns.push(fn)
  }

  async run (): Promise<void> {
    while (this.#fns.length > 0) {
      const fn = this.#fns.pop() as () => unknown
      try {
        await fn()
      } catch (err) {
        process.stderr.write(`bench cleanup: ${(err as Error).message}\n`)
      }
    }
  }
}
