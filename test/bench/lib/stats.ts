/** Latency summaries: exact percentiles over bounded samples (every loop here is bounded). */

export interface Summary {
  n: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  // Nearest rank: the smallest value with at least p% of samples at or below it.
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number
}

export function summarize (values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  const total = sorted.reduce((sum, value) => sum + value, 0)
  return {
    n: sorted.length,
    mean: sorted.length ? total / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] as number : Number.NaN
  }
}

/** Named latency samples, one array per step. */
export class Timings {
  readonly steps = new Map<string, number[]>()

  add (step: string, ms: number): void {
    let list = this.steps.get(step)
    if (!list) {
      list = []
      this.steps.set(step, list)
    }
    list.push(ms)
  }

  summaries (): Record<string, Summary> {
    const out: Record<string, Summary> = {}
    for (const [step, values] of this.steps) out[step] = summarize(values)
    return out
  }
}

export function round (value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Runs `job` with `concurrency` workers until `count` jobs started or `deadline` passed. */
export async function runPool (options: {
  count: number
  concurrency: number
  timeCapMs: number
  job: (index: number) => Promise<void>
}): Promise<{ started: number, elapsedMs: number, timedOut: boolean }> {
  const start = performance.now()
  const deadline = start + options.timeCapMs
  let next = 0
  let timedOut = false
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      if (performance.now() > deadline) {
        timedOut = true
        return
      }
      const index = next++
      await options.job(index)
    }
  }
  const workers = Array.from({ length: Math.min(options.concurrency, options.count) }, async () => await worker())
  await Promise.all(workers)
  return { started: next, elapsedMs: performance.now() - start, timedOut }
}
