import { Redis } from 'ioredis'
import { freePort, startProcess, type BenchProcess } from './processes.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { existsSync } from 'node:fs'

/**
 * The Redis the bench runs on. By default a private redis-server on a free
 * port (when the binary is there and REDIS_URL is unset), because `INFO
 * commandstats` counts every client of a server: on a Redis shared with
 * other test runs the commands-per-launch figure would include theirs.
 * `--redis shared` (or REDIS_URL) uses the shared one, under a bench-only
 * key prefix that is deleted afterwards.
 */
export interface BenchRedis {
  url: string
  kind: 'private' | 'shared'
  client: Redis
  proc?: BenchProcess
  close: () => Promise<void>
}

export async function openRedis (options: { mode: 'auto' | 'private' | 'shared', logDir: string }): Promise<BenchRedis> {
  const wantPrivate = options.mode === 'private' ||
    (options.mode === 'auto' && !process.env.REDIS_URL && existsSync('/usr/bin/redis-server'))
  if (!wantPrivate) {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    const client = new Redis(url, { maxRetriesPerRequest: 2 })
    await client.ping()
    return { url, kind: 'shared', client, close: async () => { await client.quit() } }
  }
  const port = await freePort()
  const proc = await startProcess({
    name: 'redis',
    cmd: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    logDir: options.logDir
  })
  const url = `redis://127.0.0.1:${port}`
  const client = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true, retryStrategy: () => 50 })
  // Refused connections while the server starts are expected; the loop below retries.
  client.on('error', () => {})
  const deadline = Date.now() + 10000
  for (;;) {
    try {
      await client.connect()
      await client.ping()
      break
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`private redis-server did not start: ${(err as Error).message}`)
      client.disconnect()
      await sleep(100)
    }
  }
  return {
    url,
    kind: 'private',
    client,
    proc,
    close: async () => {
      await client.quit().catch(() => {})
      await proc.stop()
    }
  }
}

export type CommandStats = Record<string, number>

/** Calls per command name since the server started (INFO commandstats). */
export async function commandStats (client: Redis): Promise<CommandStats> {
  const info = await client.info('commandstats')
  const out: CommandStats = {}
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (match) out[match[1] as string] = Number(match[2])
  }
  return out
}

/** The difference of two readings, minus the bench's own INFO calls. */
export function diffStats (before: CommandStats, after: CommandStats, ownInfoCalls = 1): CommandStats {
  const out: CommandStats = {}
  for (const [name, calls] of Object.entries(after)) {
    let diff = calls - (before[name] ?? 0)
    if (name === 'info') diff -= ownInfoCalls
    if (diff > 0) out[name] = diff
  }
  return out
}

/** Deletes every key under a prefix (SCAN, never KEYS or FLUSHDB: the server may be shared). */
export async function deletePrefix (client: Redis, prefix: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await client.unlink(...keys)
  } while (cursor !== '0')
  return deleted
}

/**
 * Read events the server has processed (INFO stats total_reads_processed):
 * one per batch of bytes a client sent, so a pipeline of commands written
 * together counts once. Over sequential launches, this is the number of
 * round trips the services made.
 */
export async function readsProcessed (client: Redis): Promise<number> {
  const info = await client.info('stats')
  const match = /total_reads_processed:(\d+)/.exec(info)
  if (!match) throw new Error('this redis-server does not report total_reads_processed (Redis 6 or newer does)')
  return Number(match[1])
}

export async function countPrefix (client: Redis, prefix: string): Promise<number> {
  let cursor = '0'
  let count = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    count += keys.length
  } while (cursor !== '0')
  return count
}

export interface MonitoredCommand { command: string, key: string }

/**
 * Records the commands the server runs while `fn` does (MONITOR on its own
 * connection). Only for a handful of launches: MONITOR slows a busy server.
 */
export async function monitorCommands (client: Redis, fn: () => Promise<void>): Promise<MonitoredCommand[]> {
  const seen: MonitoredCommand[] = []
  const monitor = await client.monitor()
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = (args[0] ?? '').toLowerCase()
    // The key is the first argument, but for a few commands.
    let key = args[1] ?? ''
    if (command === 'eval' || command === 'evalsha') key = args[3] ?? ''
    if (command === 'xreadgroup' || command === 'xread') key = args[args.findIndex((arg) => arg.toUpperCase() === 'STREAMS') + 1] ?? ''
    seen.push({ command, key })
  })
  // Let MONITOR take effect before the work starts.
  await new Promise((resolve) => setTimeout(resolve, 50))
  try {
    await fn()
    await new Promise((resolve) => setTimeout(resolve, 200))
  } finally {
    monitor.disconnect()
  }
  return seen
}

/** A key's shape: the service that wrote it (from the bench prefix) and its name with ids folded. */
export function keyShape (key: string, prefix: string): { service: string, shape: string } {
  if (!key.startsWith(prefix)) return { service: '(other)', shape: key.length > 40 ? `${key.slice(0, 40)}...` : key }
  const rest = key.slice(prefix.length)
  const [service = '', ...parts] = rest.split(':')
  const shape = parts.map((part) => (part.length >= 16 || /\d{4,}/.test(part) || part.includes('@') ? '*' : part)).join(':')
  return { service, shape }
}
