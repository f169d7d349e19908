import type { Redis } from 'ioredis'
import { defaultFlowOptions, launchOnce } from './flow.js'
import { busyFraction, cpuMs, machineCpu, rssMb } from './lib/proc.js'
import { commandStats, diffStats, readsProcessed } from './lib/redis.js'
import { runPool, summarize, Timings, type Summary } from './lib/stats.js'
import type { ServiceName, Stack } from './stack.js'

/**
 * Full launches at one concurrency: launches per second, latency per step
 * and whole, CPU milliseconds per launch per service (all replicas added),
 * Redis commands per launch (INFO commandstats before and after), and how
 * busy the whole machine was meanwhile.
 */

export interface LevelResult {
  stack: string
  concurrency: number
  attempted: number
  ok: number
  failed: number
  failures: Record<string, number>
  firstFailures: string[]
  elapsedMs: number
  timedOut: boolean
  perSecond: number
  whole: Summary
  steps: Record<string, Summary>
  requestsPerLaunch: number
  pollsPerLaunch: number
  /** Progress streams that ended without ready and were reopened after EventSource's pause. */
  reconnects: number
  cpuMsPerLaunch: Record<ServiceName, number>
  benchCpuMsPerLaunch: number
  redisCommandsPerLaunch: Record<string, number>
  redisCommandsTotalPerLaunch: number
  /** Read events at the server per launch: round trips, fewer under load where clients' writes coalesce. */
  redisReadsPerLaunch: number
  machineBusy: number
  /** Redis server CPU ms per launch (when the bench runs its own redis-server). */
  redisCpuMsPerLaunch?: number
  /** Share of all cores busy with processes that are not this bench's (other work on the machine). */
  othersBusy: number
  rssMb: Record<string, number>
}

export async function runLevel (options: {
  stack: Stack
  redis: Redis
  concurrency: number
  count: number
  timeCapMs: number
  userOffset: number
  /** The private redis-server's pid, to count its CPU too. */
  redisPid?: number
}): Promise<LevelResult> {
  const { stack } = options
  const timings = new Timings()
  const failures: Record<string, number> = {}
  const firstFailures: string[] = []
  const whole: number[] = []
  let ok = 0
  let attempted = 0
  let requests = 0
  let polls = 0
  let reconnects = 0
  const procs = stack.processes()
  const cpuBefore = procs.map(({ proc }) => cpuMs(proc.pid))
  const benchBefore = process.cpuUsage()
  const machineBefore = machineCpu()
  const redisCpuBefore = options.redisPid ? cpuMs(options.redisPid) : 0
  const redisBefore = await commandStats(options.redis)
  const readsBefore = await readsProcessed(options.redis)
  const run = await runPool({
    count: options.count,
    concurrency: options.concurrency,
    timeCapMs: options.timeCapMs,
    job: async (index) => {
      attempted++
      stack.launches++
      const outcome = await launchOnce(stack, options.userOffset + index, defaultFlowOptions)
      requests += outcome.requests
      polls += outcome.polls
      reconnects += outcome.reconnects
      if (outcome.ok) {
        ok++
        whole.push(outcome.totalMs)
        for (const [step, ms] of outcome.steps) timings.add(step, ms)
      } else if (outcome.failure) {
        const key = `${outcome.failure.step}: ${outcome.failure.status} ${outcome.failure.code}`.trim()
        failures[key] = (failures[key] ?? 0) + 1
        if (firstFailures.length < 3) firstFailures.push(`${key}: ${outcome.failure.detail}`)
      }
    }
  })
  // The two INFO calls of the bench are reads too.
  const redisReads = await readsProcessed(options.redis) - readsBefore - 2
  const redisAfter = await commandStats(options.redis)
  const machineAfter = machineCpu()
  const redisCpu = options.redisPid ? cpuMs(options.redisPid) - redisCpuBefore : 0
  const bench = process.cpuUsage(benchBefore)
  const cpuAfter = procs.map(({ proc }) => cpuMs(proc.pid))
  const cpuMsPerLaunch = { platform: 0, 'tool-auth': 0, 'spawner-broker': 0 } as Record<ServiceName, number>
  procs.forEach(({ service }, i) => {
    cpuMsPerLaunch[service] += ((cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0)) / Math.max(1, attempted)
  })
  const redisDiff = diffStats(redisBefore, redisAfter, 1)
  const redisCommandsPerLaunch: Record<string, number> = {}
  for (const [name, calls] of Object.entries(redisDiff).sort((a, b) => b[1] - a[1])) {
    redisCommandsPerLaunch[name] = calls / Math.max(1, attempted)
  }
  const servicesCpu = procs.reduce((sum, _, i) => sum + (cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0), 0)
  const benchCpu = (bench.user + bench.system) / 1000
  const machineMs = machineAfter.total - machineBefore.total
  const othersBusy = machineMs > 0 ? Math.max(0, (machineAfter.busy - machineBefore.busy - servicesCpu - benchCpu - redisCpu) / machineMs) : Number.NaN
  const rss: Record<string, number> = {}
  for (const { service, replica, proc } of procs) rss[`${service}#${replica}`] = rssMb(proc.pid)
  return {
    stack: stack.label,
    concurrency: options.concurrency,
    attempted,
    ok,
    failed: attempted - ok,
    failures,
    firstFailures,
    elapsedMs: run.elapsedMs,
    timedOut: run.timedOut,
    perSecond: (ok * 1000) / run.elapsedMs,
    whole: summarize(whole),
    steps: timings.summaries(),
    requestsPerLaunch: requests / Math.max(1, attempted),
    pollsPerLaunch: polls / Math.max(1, attempted),
    reconnects,
    cpuMsPerLaunch,
    benchCpuMsPerLaunch: (bench.user + bench.system) / 1000 / Math.max(1, attempted),
    redisCommandsPerLaunch,
    redisCommandsTotalPerLaunch: Object.values(redisCommandsPerLaunch).reduce((sum, value) => sum + value, 0),
    redisReadsPerLaunch: redisReads / Math.max(1, attempted),
    machineBusy: busyFraction(machineBefore, machineAfter),
    ...(options.redisPid ? { redisCpuMsPerLaunch: redisCpu / Math.max(1, attempted) } : {}),
    othersBusy,
    rssMb: rss
  }
}
