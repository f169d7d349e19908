/**
 * `pnpm test:redis`: the store and queue contract tests against a real Redis
 * Cluster and a real Sentinel setup (started here on loopback, from
 * redis-server), then the end-to-end launches with a failover under load
 * (e2e 21, cluster; 22, sentinel), which start their own topologies.
 *
 *   tsx redis/run.ts                  everything
 *   tsx redis/run.ts cluster          the contract tests on a cluster, and e2e 21
 *   tsx redis/run.ts --no-e2e         the contract tests only
 *   tsx redis/run.ts sentinel -- CMD  CMD with the topology's variables in its environment
 *
 * The services need `pnpm build` first (the e2e files run dist/).
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { stopAll } from '../harness/processes.js'
import { startRedisTopology, type TopologyKind } from '../harness/redis-topologies.js'
import { testDir } from '../setup/peers.js'

const repoDir = path.resolve(testDir, '..')

/** The contract suites, by package directory: the same files CI runs against the shared Redis. */
const CONTRACT_TESTS: Array<[dir: string, files: string[]]> = [
  ['packages/service-kit', ['test/store-contract.test.ts', 'test/queue.test.ts']]
]
const E2E: Record<TopologyKind, string> = {
  cluster: 'e2e/21-redis-cluster.test.ts',
  sentinel: 'e2e/22-redis-sentinel.test.ts'
}

const args = process.argv.slice(2)
const dash = args.indexOf('--')
const command = dash >= 0 ? args.slice(dash + 1) : []
const options = dash >= 0 ? args.slice(0, dash) : args
const kinds = (['cluster', 'sentinel'] as const).filter((kind) => options.includes(kind))
const chosen: TopologyKind[] = kinds.length > 0 ? kinds : ['cluster', 'sentinel']
const e2e = !options.includes('--no-e2e') && command.length === 0

function run (label: string, cmd: string[], cwd: string, env: NodeJS.ProcessEnv): boolean {
  const started = Date.now()
  console.log(`\n## ${label}: ${cmd.join(' ')} (in ${path.relative(repoDir, cwd) || '.'})`)
  const result = spawnSync(cmd[0] as string, cmd.slice(1), { cwd, env, stdio: 'inherit' })
  const ok = result.status === 0
  console.log(`## ${label}: ${ok ? 'passed' : `FAILED (${result.status ?? result.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return ok
}

const failures: string[] = []
const started = Date.now()
try {
  for (const kind of chosen) {
    const topologyStarted = Date.now()
    const topology = await startRedisTopology(undefined, kind, `redis-${kind}-contract`)
    console.log(`## ${kind}: up in ${Date.now() - topologyStarted} ms: ${JSON.stringify(topology.settings)}`)
    // Only the topology: no REDIS_URL, and the tests must find it (a skip would be a silent pass).
    const env: NodeJS.ProcessEnv = { ...process.env, ...topology.settings, LTILAUNCH_REQUIRE_REDIS: '1' }
    delete env.REDIS_URL
    delete env.LTILAUNCH_TEST_REDIS_URL
    try {
      if (command.length > 0) {
        if (!run(`${kind}: ${command[0] as string}`, command, process.cwd(), env)) failures.push(`${kind}: ${command.join(' ')}`)
        continue
      }
      for (const [dir, files] of CONTRACT_TESTS) {
        if (!run(`${kind}: ${dir}`, ['pnpm', 'exec', 'tap', '--disable-coverage', ...files], path.join(repoDir, dir), env)) failures.push(`${kind}: ${dir}`)
      }
    } finally {
      await topology.stop()
    }
  }
  if (e2e) {
    const files = chosen.map((kind) => E2E[kind])
    if (!run('e2e', ['pnpm', 'exec', 'tap', ...files], testDir, process.env)) failures.push(`e2e: ${files.join(' ')}`)
  }
} finally {
  await stopAll()
}
console.log(`\n## test:redis ${failures.length === 0 ? 'passed' : `FAILED: ${failures.join('; ')}`} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
process.exitCode = failures.length === 0 ? 0 : 1
