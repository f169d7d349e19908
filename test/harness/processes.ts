/**
 * Child processes of the end-to-end tests: our services, JupyterHub, the
 * ltijs tool. Each one
 *
 * - gets its own process group, so that stopping it also stops what it
 *   started (the hub's proxy), and its descendants are noted when it is
 *   stopped, so that those in sessions of their own (the hub's single-user
 *   servers) are ended too if they outlive it;
 * - writes stdout and stderr to test/output/logs/<name>.log, kept after
 *   the run;
 * - is ready when an HTTP URL answers; a timeout or an early exit throws
 *   with the last lines of its log;
 * - is stopped (SIGTERM, then SIGKILL after a grace period) by the test's
 *   teardown, by stopAll(), and, as a last resort, when this process exits
 *   or is told to stop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, type WriteStream } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { outputDir } from '../setup/peers.js'

/** What startProcess needs of a tap test: a teardown hook. */
export interface Teardown {
  teardown: (fn: () => unknown) => void
}

export interface ReadyCheck {
  url: string
  /** Whether an answer means ready; default: any status below 500. */
  ok?: (status: number, body: string) => boolean
  headers?: Record<string, string>
}

export interface StartOptions {
  name: string
  cmd: string
  args?: string[]
  /** The whole environment of the child (default: this process's), cleaned by childEnv(). */
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** A URL (or check) that answers once the process is ready. */
  readyUrl?: string | ReadyCheck
  /** How long to wait for readiness (default 30 s). */
  timeoutMs?: number
  /** Between SIGTERM and SIGKILL when stopping (default 5 s). */
  graceMs?: number
  /** Where the log goes (default test/output/logs, or LTILAUNCH_E2E_LOG_DIR). */
  logDir?: string
}

export interface ManagedProcess {
  name: string
  pid: number
  child: ChildProcess
  logFile: string
  /** ms from spawn to ready (0 when there is no readyUrl). */
  startMs: number
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  running: () => boolean
  /** The last lines of its log. */
  tail: (lines?: number) => string
  stop: () => Promise<void>
}

const managed = new Set<ManagedProcess>()
const usedLogNames = new Set<string>()

const RUNNER_VARIABLE = (name: string): boolean =>
  name === 'NODE_OPTIONS' || name === 'NODE_PATH' || name === 'TAP' || name.startsWith('TAP_') || name.startsWith('_TAPJS_')

/**
 * An environment for a child: the given one (default: ours) without what
 * the test runner put there for itself. tap's NODE_OPTIONS loads its
 * process-info hooks, which break configurable-http-proxy and would follow
 * our services; TAP_* and _TAPJS_* tell a child that it is a tap test.
 */
export function childEnv (env: NodeJS.ProcessEnv = process.env, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries({ ...env, ...extra })) {
    if (value !== undefined && !RUNNER_VARIABLE(name)) clean[name] = value
  }
  return clean
}

/**
 * tap's process-info hook puts NODE_OPTIONS and its _TAPJS_* variables back
 * into the environment of every child spawned from a test, whatever env we
 * pass. So a child is started through env(1), which drops them before it
 * runs the command in its place (same pid).
 */
function withoutRunnerVariables (cmd: string, args: string[]): { cmd: string, args: string[] } {
  const names = new Set(['NODE_OPTIONS', '_TAPJS_PROCESSINFO_EXCLUDE_', '_TAPJS_PROCESSINFO_EXTERNAL_ID_'])
  for (const name of Object.keys(process.env)) if (RUNNER_VARIABLE(name)) names.add(name)
  return { cmd: '/usr/bin/env', args: [...[...names].flatMap((name) => ['-u', name]), '--', cmd, ...args] }
}

/** The file a command names, looked up on PATH when it has no slash. */
function resolveCommand (cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  const executable = (file: string): boolean => {
    try {
      accessSync(file, constants.X_OK)
      return statSync(file).isFile()
    } catch {
      return false
    }
  }
  if (cmd.includes('/')) return executable(cmd) ? cmd : undefined
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir !== '' && executable(path.join(dir, cmd))) return path.join(dir, cmd)
  }
  return undefined
}

/** The directory for process logs of this run. */
export function logDir (): string {
  return process.env.LTILAUNCH_E2E_LOG_DIR ?? path.join(outputDir, 'logs')
}

/** A TCP port free on 127.0.0.1 right now (bound to port 0, then released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { port > 0 ? resolve(port) : reject(new Error('no free port')) })
    })
  })
}

/** Several distinct free ports. */
export async function freePorts (count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}

function logFileFor (name: string, dir: string): string {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`process name ${JSON.stringify(name)} must be a plain file name`)
  let file = path.join(dir, `${name}.log`)
  for (let n = 2; usedLogNames.has(file); n++) file = path.join(dir, `${name}-${n}.log`)
  usedLogNames.add(file)
  return file
}

function readTail (file: string, lines: number): string {
  try {
    const text = readFileSync(file, 'utf8')
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd()
  } catch {
    return '(no log)'
  }
}

/** Process start time in clock ticks, to tell a pid from a reused one. */
function startTicks (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function parentOf (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

/** Every living descendant of pid, with its start time. */
function descendants (pid: number): Array<{ pid: number, ticks: string }> {
  if (!existsSync('/proc')) return []
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const child = Number(entry)
    const parent = parentOf(child)
    if (parent === undefined) continue
    const list = children.get(parent) ?? []
    list.push(child)
    children.set(parent, list)
  }
  const found: Array<{ pid: number, ticks: string }> = []
  const queue = [...(children.get(pid) ?? [])]
  while (queue.length > 0) {
    const next = queue.shift() as number
    const ticks = startTicks(next)
    if (ticks !== undefined) found.push({ pid: next, ticks })
    queue.push(...(children.get(next) ?? []))
  }
  return found
}

function signalGroup (pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {}
  }
}

/** Whether the process is still the same one and not a zombie. */
function stillRunning (pid: number, ticks: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] !== 'Z' && fields[19] === ticks
  } catch {
    return false
  }
}

/** Ends stragglers by pid, only those that are still the same processes. */
function killStragglers (list: Array<{ pid: number, ticks: string }>): Array<{ pid: number, ticks: string }> {
  const left = list.filter(({ pid, ticks }) => stillRunning(pid, ticks))
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  return left
}

/** Polls until the check passes, the process exits or time runs out. */
export async function waitUntilReady (proc: ManagedProcess | undefined, check: ReadyCheck, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const ok = check.ok ?? ((status: number) => status < 500)
  let last = 'no answer yet'
  const describe = (): string => proc ? `\n--- last lines of ${proc.logFile} ---\n${proc.tail(40)}` : ''
  while (Date.now() < deadline) {
    if (proc && !proc.running()) {
      const { code, signal } = await proc.exited
      throw new Error(`${proc.name} exited while starting (code ${code}, signal ${signal}) before ${check.url} answered${describe()}`)
    }
    try {
      const reply = await fetch(check.url, { headers: check.headers, redirect: 'manual', signal: AbortSignal.timeout(Math.min(2000, Math.max(100, deadline - Date.now()))) })
      const body = await reply.text()
      if (ok(reply.status, body)) return
      last = `status ${reply.status}: ${body.slice(0, 200)}`
    } catch (err) {
      last = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message
    }
    await sleep(150)
  }
  throw new Error(`${proc?.name ?? check.url} was not ready within ${timeoutMs} ms: ${check.url} (${last})${describe()}`)
}

/**
 * Starts a process, waits until it is ready, and registers its stop with
 * t.teardown, so that it is stopped after the test whatever the outcome.
 */
export async function startProcess (t: Teardown | undefined, options: StartOptions): Promise<ManagedProcess> {
  const dir = options.logDir ?? logDir()
  mkdirSync(dir, { recursive: true })
  const logFile = logFileFor(options.name, dir)
  const log: WriteStream = createWriteStream(logFile, { flags: 'w' })
  const args = options.args ?? []
  log.write(`[e2e] ${new Date().toISOString()} ${options.cmd} ${args.join(' ')}\n`)
  const env = childEnv(options.env ?? process.env)
  const resolved = resolveCommand(options.cmd, env)
  if (resolved === undefined) {
    log.end(`[e2e] ${options.cmd}: no such executable\n`)
    throw new Error(`cannot start ${options.name}: ${options.cmd} is not an executable file${options.cmd.includes('/') ? '' : ' on PATH'}`)
  }
  const wrapped = existsSync('/usr/bin/env') ? withoutRunnerVariables(resolved, args) : { cmd: resolved, args }
  const spawned = Date.now()
  const child = spawn(wrapped.cmd, wrapped.args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true // its own process group: a stop reaches what it started
  })
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      log.write(`\n[e2e] ${options.name} exited code=${code} signal=${signal}\n`)
      resolve({ code, signal })
    })
    child.once('error', (err) => {
      log.write(`\n[e2e] ${options.name} could not run: ${err.message}\n`)
      resolve({ code: null, signal: null })
    })
  })
  // Give 'error' (ENOENT) a chance to arrive before looking at the pid.
  if (child.pid === undefined) {
    await exited
    throw new Error(`cannot start ${options.name}: ${options.cmd} ${args.join(' ')}\n${readTail(logFile, 5)}`)
  }
  const pid = child.pid
  const graceMs = options.graceMs ?? 5000
  let stopping: Promise<void> | undefined
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const proc: ManagedProcess = {
    name: options.name,
    pid,
    child,
    logFile,
    startMs: 0,
    exited,
    running,
    tail: (lines = 40) => readTail(logFile, lines),
    stop: async () => {
      stopping ??= (async () => {
        const family = descendants(pid)
        if (running()) {
          signalGroup(pid, 'SIGTERM')
          const grace = new AbortController()
          const done = await Promise.race([
            exited.then(() => true),
            sleep(graceMs, false, { signal: grace.signal }).catch(() => false)
          ])
          grace.abort() // a pending grace timer would hold the test process open
          if (!done) {
            log.write(`\n[e2e] ${options.name} still running ${graceMs} ms after SIGTERM: SIGKILL\n`)
            signalGroup(pid, 'SIGKILL')
            await exited
          }
        }
        // The group is gone; anything it started in a session of its own is ended here.
        signalGroup(pid, 'SIGKILL')
        let left = killStragglers(family)
        for (let i = 0; i < 40 && left.length > 0; i++) {
          await sleep(25)
          left = left.filter(({ pid, ticks }) => stillRunning(pid, ticks))
        }
        if (left.length > 0) log.write(`[e2e] ${options.name}: processes ${left.map((p) => p.pid).join(', ')} did not end\n`)
        managed.delete(proc)
        await new Promise<void>((resolve) => log.end(resolve))
      })()
      await stopping
    }
  }
  managed.add(proc)
  installExitHooks()
  t?.teardown(async () => { await proc.stop() })
  if (options.readyUrl !== undefined) {
    const check = typeof options.readyUrl === 'string' ? { url: options.readyUrl } : options.readyUrl
    try {
      await waitUntilReady(proc, check, options.timeoutMs ?? 30_000)
    } catch (err) {
      await proc.stop()
      throw err
    }
    proc.startMs = Date.now() - spawned
    log.write(`[e2e] ${options.name} ready after ${proc.startMs} ms (${check.url})\n`)
  }
  return proc
}

/** Stops every process started here that is still running. */
export async function stopAll (): Promise<void> {
  await Promise.all([...managed].map(async (proc) => { await proc.stop() }))
}

/** The processes started here and not yet stopped. */
export function runningProcesses (): ManagedProcess[] {
  return [...managed]
}

let hooksInstalled = false

function killAllNow (): void {
  for (const proc of managed) {
    const family = descendants(proc.pid)
    signalGroup(proc.pid, 'SIGKILL')
    killStragglers(family)
  }
}

/**
 * The last resort when a test file dies without its teardowns (an uncaught
 * error, tap's timeout, Ctrl-C): kill every process group started here.
 */
function installExitHooks (): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.once('exit', killAllNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllNow()
      process.kill(process.pid, signal)
    })
  }
}
