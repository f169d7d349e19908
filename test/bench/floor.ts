import path from 'node:path'
import { Redis } from 'ioredis'
import { rawRequest, Router } from './lib/client.js'
import { cpuMs } from './lib/proc.js'
import { freePort, startProcess } from './lib/processes.js'
import { runPool } from './lib/stats.js'

/**
 * The HTTP floor: CPU per request of a bare Fastify route in its own
 * process (the same fastify and node flags as the services), driven by the
 * bench's own client at concurrency 16 on keep-alive sockets. A launch is
 * about a dozen HTTP exchanges, so this bounds it from below as the RS256
 * rates do.
 */
export interface FloorResult {
  requests: number
  serverCpuMsPerRequest: number
  clientCpuMsPerRequest: number
  perServerCpuSecond: number
}

export async function measureHttpFloor (options: { repo: string, nodeArgs: string[], logDir: string, quick: boolean }): Promise<FloorResult> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/hello`
  const proc = await startProcess({
    name: 'bare-fastify',
    cmd: process.execPath,
    args: [...options.nodeArgs, path.join(options.repo, 'test', 'bench', 'peers', 'bare-fastify.mjs')],
    env: { PATH: process.env.PATH, PORT: String(port) },
    readyUrl: url,
    logDir: options.logDir
  })
  const router = new Router()
  const count = options.quick ? 2000 : 20000
  try {
    // Warm up the JIT and the sockets first.
    await runPool({ count: 500, concurrency: 16, timeCapMs: 30000, job: async () => { await rawRequest(router, 'GET', url) } })
    const server0 = cpuMs(proc.pid)
    const client0 = process.cpuUsage()
    const run = await runPool({ count, concurrency: 16, timeCapMs: 60000, job: async () => { await rawRequest(router, 'GET', url) } })
    const client = process.cpuUsage(client0)
    const serverMs = cpuMs(proc.pid) - server0
    return {
      requests: run.started,
      serverCpuMsPerRequest: serverMs / run.started,
      clientCpuMsPerRequest: (client.user + client.system) / 1000 / run.started,
      perServerCpuSecond: (run.started * 1000) / serverMs
    }
  } finally {
    await proc.stop()
  }
}

/**
 * The Redis floor: CPU per round trip of a bare ioredis client (the
 * services' client library) in the bench process, one command per round
 * trip (SET EX, then GET, of one key under the bench prefix) at
 * concurrency 16 like the HTTP floor. It is the client's side only, as the
 * services' CPU per launch is theirs only (Redis' own CPU is not counted in
 * either).
 */
export interface RedisFloorResult {
  roundTrips: number
  clientCpuMsPerRoundTrip: number
  /** Wall time per round trip at concurrency 1 (latency, for the record). */
  latencyMsAtConcurrency1: number
}

export async function measureRedisFloor (options: { url: string, prefix: string, quick: boolean }): Promise<RedisFloorResult> {
  const client = new Redis(options.url, { maxRetriesPerRequest: 1 })
  const key = `${options.prefix}floor`
  let i = 0
  const job = async (): Promise<void> => {
    if (i++ % 2 === 0) await client.set(key, 'x'.repeat(200), 'EX', 60)
    else await client.get(key)
  }
  try {
    await runPool({ count: 1000, concurrency: 16, timeCapMs: 30000, job })
    const count = options.quick ? 4000 : 40000
    const before = process.cpuUsage()
    const run = await runPool({ count, concurrency: 16, timeCapMs: 60000, job })
    const cpu = process.cpuUsage(before)
    const sequential = options.quick ? 500 : 2000
    const started = performance.now()
    for (let n = 0; n < sequential; n++) await job()
    const latency = (performance.now() - started) / sequential
    return { roundTrips: run.started, clientCpuMsPerRoundTrip: (cpu.user + cpu.system) / 1000 / run.started, latencyMsAtConcurrency1: latency }
  } finally {
    await client.del(key).catch(() => {})
    await client.quit().catch(() => {})
  }
}
