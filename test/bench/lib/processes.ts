import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Child processes for the bench. Every process started here is registered,
 * so that `stopAll` (called on success, on error and on SIGINT/SIGTERM) ends
 * each one by its own pid and nothing is left behind.
 */

export interface BenchProcess {
  name: string
  pid: number
  child: ChildProcess
  logFile: string
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>
  stop: (timeoutMs?: number) => Promise<void>
}

const running = new Set<BenchProcess>()

/** A TCP port that is free on 127.0.0.1 right now. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export function startProcess (options: {
  name: string
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  logDir: string
}): BenchProcess {
  mkdirSync(options.logDir, { recursive: true })
  const logFile = path.join(options.logDir, `${options.name}.log`)
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })
  if (child.pid === undefined) throw new Error(`cannot start ${options.name}: ${options.command}`)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      log.write(`\n[bench] ${options.name} exited code=${code} signal=${signal}\n`)
      resolve(code)
    })
    child.once('error', (err) => {
      log.write(`\n[bench] ${options.name} error ${err.message}\n`)
      resolve(null)
    })
  })
  const proc: BenchProcess = {
    name: options.name,
    pid: child.pid,
    child,
    logFile,
    exited,
    stop: async (timeoutMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)])
        if (!done) {
          child.kill('SIGKILL')
          await exited
        }
      }
      running.delete(proc)
      log.end()
    }
  }
  running.add(proc)
  return proc
}

export async function stopAll (): Promise<void> {
  await Promise.all([...running].map(async (proc) => await proc.stop()))
}

/** Polls `url` until it answers with a status below 500, the process dies, or time runs out. */
export async function waitForHttp (url: string, proc: BenchProcess | undefined, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited while starting (code ${proc.child.exitCode}); see ${proc.logFile}`)
    }
    try {
      const reply = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await reply.arrayBuffer()
      if (reply.status < 500) return
      last = `status ${reply.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last})${proc ? `; see ${proc.logFile}` : ''}`)
}
