import path from 'node:path'
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
