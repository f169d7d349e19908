/**
 * Real Redis topologies on loopback, from Debian's redis-server: a Cluster
 * (three masters, each with a replica) and Sentinel (a primary, a replica and
 * three sentinels, quorum 2). Each lives in a temporary directory on free
 * ports, is healthy when started (every slot served, every replica in sync,
 * the sentinels agreeing on the primary), can fail its master over as a
 * crash does (SIGKILL, then the promotion the topology makes on its own), and
 * is torn down with its directory.
 *
 * `settings` are the variables the services read (REDIS_CLUSTER_NODES,
 * REDIS_SENTINELS, REDIS_SENTINEL_NAME), so a topology is handed to a
 * service, or to a contract test, as its environment.
 *
 * `redis/run.ts` (`pnpm test:redis`) starts each and runs the contract tests
 * against it; e2e 21 and 22 start their own.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePorts, startProcess, type ManagedProcess, type Teardown } from './processes.js'

export type TopologyKind = 'cluster' | 'sentinel'

export const SENTINEL_NAME = 'ltilaunch'

/** One redis-server (or sentinel) of a topology. */
export interface RedisNode {
  name: string
  port: number
  /** The running process (a restart replaces it). */
  proc: ManagedProcess
  /** Starts the node again after a kill, with its own config and directory. */
  restart: () => Promise<void>
}

export interface Failover {
  /** The node that was killed. */
  killed: RedisNode
  /** The replica that serves in its place. */
  promoted: RedisNode
  /** From the kill until the topology serves writes again at the promoted node, as its clients find it. */
  ms: number
}

export interface RedisTopology {
  kind: TopologyKind
  /** The environment the services read to use this topology. */
  settings: { REDIS_CLUSTER_NODES?: string, REDIS_SENTINELS?: string, REDIS_SENTINEL_NAME?: string }
  /** The data nodes (masters and replicas; not the sentinels). */
  nodes: RedisNode[]
  sentinels: RedisNode[]
  /**
   * Kills (SIGKILL) the master that serves `key` (the primary, under
   * Sentinel) and waits until its replica has been promoted and takes writes
   * (the time reported); then starts the old one again and waits until it
   * has rejoined as a replica, so the topology is whole for the next test.
   */
  failover: (key?: string) => Promise<Failover>
  /**
   * A planned switchover, as for maintenance: the replica of the master that
   * serves `key` takes over (CLUSTER FAILOVER at the replica; the sentinels'
   * FAILOVER command) and the old master becomes its replica; nothing is killed.
   */
  switchover: (key?: string) => Promise<Failover>
  stop: () => Promise<void>
}

const REDIS_SERVER = process.env.LTILAUNCH_REDIS_SERVER ?? '/usr/bin/redis-server'
const REDIS_CLI = process.env.LTILAUNCH_REDIS_CLI ?? '/usr/bin/redis-cli'

/** How long a node may be silent before it counts as down (cluster-node-timeout, down-after-milliseconds). */
export const DOWN_AFTER_MS = 1000

/**
 * How long after the promotion a killed master is started again. At once, a
 * Cluster master back before every client refreshed its slot map takes
 * writes it then drops on becoming a replica (a finished launch was lost so
 * in e2e 21, with the services refreshing the map every second): the
 * operator guide asks for a restart delay, and the tests keep it.
 */
export const RESTART_DELAY_MS = 3000

async function until<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`)
    await sleep(50)
  }
}

/** A short-lived direct connection to one node, which never retries. */
async function ask<T> (port: number, command: string, ...args: string[]): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 1000, commandTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true })
  redis.on('error', () => {}) // the caller gets the failure from the command
  try {
    await redis.connect()
    return await redis.call(command, ...args) as T
  } finally {
    redis.disconnect()
  }
}

/** INFO section as fields. */
async function info (port: number, section: string): Promise<Record<string, string>> {
  const text = await ask<string>(port, 'INFO', section)
  return Object.fromEntries(text.split('\r\n').filter((line) => line.includes(':')).map((line) => {
    const at = line.indexOf(':')
    return [line.slice(0, at), line.slice(at + 1)]
  }))
}

function config (lines: Record<string, string | number>): string {
  return Object.entries(lines).map(([name, value]) => `${name} ${value}`).join('\n') + '\n'
}

/** What every data node shares: loopback, no persistence, fast full syncs. */
function nodeConfig (dir: string, port: number): Record<string, string | number> {
  return {
    port,
    bind: '127.0.0.1',
    dir,
    save: '""',
    appendonly: 'no',
    'repl-diskless-sync': 'yes',
    'repl-diskless-sync-delay': 0,
    'repl-diskless-load': 'on-empty-db',
    loglevel: 'notice'
  }
}

async function startNode (t: Teardown | undefined, name: string, dir: string, port: number, text: string, sentinel = false): Promise<RedisNode> {
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, sentinel ? 'sentinel.conf' : 'redis.conf')
  writeFileSync(file, text)
  const launch = async (): Promise<ManagedProcess> => {
    const proc = await startProcess(t, { name, cmd: REDIS_SERVER, args: sentinel ? [file, '--sentinel'] : [file], cwd: dir, graceMs: 2000 })
    await until(`${name} to answer on ${port}`, async () => {
      if (!proc.running()) throw new Error(`${name} exited:\n${proc.tail(20)}`)
      return (await ask<string>(port, 'PING')) === 'PONG' ? true : undefined
    }, 15_000)
    return proc
  }
  const node: RedisNode = {
    name,
    port,
    proc: await launch(),
    restart: async () => {
      await node.proc.stop()
      node.proc = await launch()
    }
  }
  return node
}

function kill (node: RedisNode): void {
  try {
    process.kill(-node.proc.pid, 'SIGKILL')
  } catch {
    node.proc.child.kill('SIGKILL')
  }
}

function workDir (name: string): string {
  return mkdtempSync(path.join(tmpdir(), `ltilaunch-${name}-`))
}

/** Three masters with a replica each; slots assigned by redis-cli --cluster create. */
export async function startRedisCluster (t: Teardown | undefined, name = 'redis-cluster'): Promise<RedisTopology> {
  const dir = workDir(name)
  // Six client ports and six bus ports (the default bus port, port + 10000, may be past 65535).
  const ports = await freePorts(12)
  const nodes: RedisNode[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map(async (node) => { await node.proc.stop() }))
    rmSync(dir, { recursive: true, force: true })
  }
  t?.teardown(stop)
  try {
    for (let i = 0; i < 6; i++) {
      const port = ports[i] as number
      nodes.push(await startNode(t, `${name}-${port}`, path.join(dir, String(port)), port, config({
        ...nodeConfig(path.join(dir, String(port)), port),
        'cluster-enabled': 'yes',
        'cluster-config-file': 'nodes.conf',
        'cluster-port': ports[i + 6] as number,
        'cluster-node-timeout': DOWN_AFTER_MS,
        // A replica may take over however long it was cut off: what we test is the takeover.
        'cluster-replica-validity-factor': 0,
        'cluster-require-full-coverage': 'yes'
      })))
    }
    const created = spawnSync(REDIS_CLI, ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status}):\n${created.stdout}\n${created.stderr}`)
    await until('the cluster to be healthy (all slots, every replica in sync)', async () => await clusterHealthy(nodes) ? true : undefined, 30_000)
  } catch (err) {
    await stop()
    throw err
  }

  const topology: RedisTopology = {
    kind: 'cluster',
    settings: { REDIS_CLUSTER_NODES: nodes.map((node) => `127.0.0.1:${node.port}`).join(',') },
    nodes,
    sentinels: [],
    failover: async (key = 'ltilaunch') => {
      const live = nodes.filter((node) => node.proc.running())
      const slot = await ask<number>(live[0]?.port as number, 'CLUSTER', 'KEYSLOT', key)
      const master = await masterOfSlot(live, slot)
      const replica = await until(`a replica of ${master.name}`, async () => await replicaOf(live, master))
      const started = Date.now()
      kill(master)
      // Promoted, and the cluster says every slot is served again (as a client that follows MOVED sees it).
      await until(`${replica.name} to take over from ${master.name}`, async () => {
        const role = await info(replica.port, 'replication')
        if (role.role !== 'master') return undefined
        const state = await info(replica.port, 'cluster')
        return state.cluster_enabled === '1' && (await ask<string>(replica.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok') ? true : undefined
      }, 30_000)
      const ms = Date.now() - started
      // As an operator would: the old master comes back (its nodes.conf kept) and rejoins as the new one's replica.
      await sleep(RESTART_DELAY_MS)
      await master.restart()
      await until(`${master.name} to rejoin as a replica`, async () => await clusterHealthy(nodes) && (await info(master.port, 'replication')).role === 'slave' ? true : undefined, 30_000)
      return { killed: master, promoted: replica, ms }
    },
    switchover: async (key = 'ltilaunch') => {
      const live = nodes.filter((node) => node.proc.running())
      const slot = await ask<number>(live[0]?.port as number, 'CLUSTER', 'KEYSLOT', key)
      const master = await masterOfSlot(live, slot)
      const replica = await until(`a replica of ${master.name}`, async () => await replicaOf(live, master))
      const started = Date.now()
      await ask(replica.port, 'CLUSTER', 'FAILOVER')
      await until(`${replica.name} to take over from ${master.name}`, async () =>
        (await info(replica.port, 'replication')).role === 'master' && (await info(master.port, 'replication')).role === 'slave' ? true : undefined)
      return { killed: master, promoted: replica, ms: Date.now() - started }
    },
    stop
  }
  return topology
}

async function clusterHealthy (nodes: RedisNode[]): Promise<boolean> {
  for (const node of nodes) {
    const text = await ask<string>(node.port, 'CLUSTER', 'INFO')
    if (!text.includes('cluster_state:ok') || !text.includes('cluster_known_nodes:6')) return false
    const replication = await info(node.port, 'replication')
    if (replication.role === 'slave' && replication.master_link_status !== 'up') return false
  }
  return true
}

async function masterOfSlot (nodes: RedisNode[], slot: number): Promise<RedisNode> {
  const slots = await ask<Array<[number, number, [string, number, string?]]>>(nodes[0]?.port as number, 'CLUSTER', 'SLOTS')
  const range = slots.find(([from, to]) => slot >= from && slot <= to)
  const port = Number(range?.[2][1])
  const master = nodes.find((node) => node.port === port)
  if (master === undefined) throw new Error(`no live master serves slot ${slot}`)
  return master
}

async function replicaOf (nodes: RedisNode[], master: RedisNode): Promise<RedisNode | undefined> {
  for (const node of nodes) {
    if (node === master) continue
    const replication = await info(node.port, 'replication')
    if (replication.role === 'slave' && Number(replication.master_port) === master.port && replication.master_link_status === 'up') return node
  }
  return undefined
}

/** A primary, its replica, and three sentinels watching them (quorum 2). */
export async function startRedisSentinel (t: Teardown | undefined, name = 'redis-sentinel'): Promise<RedisTopology> {
  const dir = workDir(name)
  const [primaryPort, replicaPort, ...sentinelPorts] = await freePorts(5) as [number, number, number, number, number]
  const nodes: RedisNode[] = []
  const sentinels: RedisNode[] = []
  const stop = async (): Promise<void> => {
    await Promise.all([...sentinels, ...nodes].map(async (node) => { await node.proc.stop() }))
    rmSync(dir, { recursive: true, force: true })
  }
  t?.teardown(stop)
  try {
    const dataNode = async (port: number, extra: Record<string, string | number>): Promise<RedisNode> => {
      const nodeDir = path.join(dir, String(port))
      return await startNode(t, `${name}-${port}`, nodeDir, port, config({ ...nodeConfig(nodeDir, port), ...extra }))
    }
    // A primary without a replica in sync refuses writes (503) rather than
    // accept what a switchover would drop: the sentinels' planned failover
    // promotes the replica before the old primary stops taking writes.
    const safety = { 'min-replicas-to-write': 1, 'min-replicas-max-lag': 2 }
    nodes.push(await dataNode(primaryPort, safety))
    nodes.push(await dataNode(replicaPort, { ...safety, replicaof: `127.0.0.1 ${primaryPort}` }))
    await until('the replica to be in sync', async () => (await info(replicaPort, 'replication')).master_link_status === 'up' ? true : undefined)
    for (const port of sentinelPorts) {
      const sentinelDir = path.join(dir, `sentinel-${port}`)
      // Each sentinel rewrites its own file (what it learns of the others, the current epoch).
      sentinels.push(await startNode(t, `${name}-sentinel-${port}`, sentinelDir, port, config({
        port,
        bind: '127.0.0.1',
        dir: sentinelDir,
        'sentinel monitor': `${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
        'sentinel down-after-milliseconds': `${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
        'sentinel failover-timeout': `${SENTINEL_NAME} 5000`,
        'sentinel parallel-syncs': `${SENTINEL_NAME} 1`
      }), true))
    }
    // Every sentinel knows the replica and the two other sentinels.
    await until('the sentinels to know each other and the replica', async () => {
      for (const sentinel of sentinels) {
        const fields = await ask<string[]>(sentinel.port, 'SENTINEL', 'MASTER', SENTINEL_NAME)
        const field = (key: string): number => Number(fields[fields.indexOf(key) + 1])
        if (field('num-other-sentinels') !== 2 || field('num-slaves') !== 1) return undefined
      }
      return true
    }, 30_000)
  } catch (err) {
    await stop()
    throw err
  }

  return {
    kind: 'sentinel',
    settings: { REDIS_SENTINELS: sentinels.map((node) => `127.0.0.1:${node.port}`).join(','), REDIS_SENTINEL_NAME: SENTINEL_NAME },
    nodes,
    sentinels,
    failover: async () => {
      const primary = await currentPrimary(sentinels, nodes)
      const replica = nodes.find((node) => node !== primary && node.proc.running())
      if (replica === undefined) throw new Error('no replica left to promote')
      const started = Date.now()
      kill(primary)
      // Promoted, and every sentinel (where clients ask) names it.
      await until(`the sentinels to promote ${replica.name}`, async () => {
        if ((await info(replica.port, 'replication')).role !== 'master') return undefined
        for (const sentinel of sentinels) {
          const [, port] = await ask<[string, string]>(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)
          if (Number(port) !== replica.port) return undefined
        }
        return true
      }, 30_000)
      const ms = Date.now() - started
      // As an operator would: the old primary comes back, and the sentinels make it the new one's replica.
      await sleep(RESTART_DELAY_MS)
      await primary.restart()
      await until(`${primary.name} to rejoin as a replica`, async () => {
        const replication = await info(primary.port, 'replication')
        return replication.role === 'slave' && Number(replication.master_port) === replica.port && replication.master_link_status === 'up' ? true : undefined
      }, 30_000)
      return { killed: primary, promoted: replica, ms }
    },
    switchover: async () => {
      const primary = await currentPrimary(sentinels, nodes)
      const replica = nodes.find((node) => node !== primary && node.proc.running())
      if (replica === undefined) throw new Error('no replica to switch over to')
      const started = Date.now()
      await ask(sentinels[0]?.port as number, 'SENTINEL', 'FAILOVER', SENTINEL_NAME)
      await until(`the sentinels to switch over to ${replica.name}`, async () => {
        if ((await info(replica.port, 'replication')).role !== 'master') return undefined
        if ((await info(primary.port, 'replication')).role !== 'slave') return undefined
        for (const sentinel of sentinels) {
          const [, port] = await ask<[string, string]>(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)
          if (Number(port) !== replica.port) return undefined
        }
        return true
      }, 30_000)
      return { killed: primary, promoted: replica, ms: Date.now() - started }
    },
    stop
  }
}

async function currentPrimary (sentinels: RedisNode[], nodes: RedisNode[]): Promise<RedisNode> {
  const [, port] = await ask<[string, string]>(sentinels[0]?.port as number, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)
  const primary = nodes.find((node) => node.port === Number(port))
  if (primary === undefined) throw new Error(`the sentinels name a primary on ${port}, which is not ours`)
  return primary
}

export async function startRedisTopology (t: Teardown | undefined, kind: TopologyKind, name?: string): Promise<RedisTopology> {
  return kind === 'cluster' ? await startRedisCluster(t, name) : await startRedisSentinel(t, name)
}
