/**
 * ltilaunch benchmarks: `pnpm bench` (root, through turbo) or, in test/,
 * `pnpm bench -- [flags]` / `npx tsx bench/run.ts [flags]`.
 *
 *   --quick                 small counts: a smoke run of about a minute
 *   --only a,b              sections: limit, full, validation, memory, scaling, notebook
 *   --notebook-poll-ms N    notebook: the broker's PROGRESS_POLL_MS (default 200, the
 *                           service's own default: what a user waits with)
 *   --launches N            launches behind the memory figure (default 10000)
 *   --concurrency 1,16,64   full-launch levels
 *   --redis auto|private|shared
 *                           auto (default): a private redis-server on a free port
 *                           when REDIS_URL is unset, so INFO commandstats counts
 *                           only the bench; shared: REDIS_URL or 127.0.0.1:6379
 *   --validation a,b        tool-auth, ltijs, ltiauthenticator (default all)
 *   --log-level L           the services' LOG_LEVEL (default warn)
 *   --progress-poll-ms N    the broker's PROGRESS_POLL_MS (default 50, its minimum; the
 *                           service's own default is 200, which adds up to that much
 *                           to every launch's wait)
 *   --cpu-prof              run the services under node --cpu-prof and summarise
 *   --experiment autopipeline
 *                           preload bench/experiments/autopipeline.mjs into the services
 *                           (ioredis enableAutoPipelining), to measure that change
 *   --experiment memlog     preload bench/experiments/memlog.mjs: each service logs its
 *                           memoryUsage() every 2 s; the memory table then shows the V8 heap
 *   --node-args "F ..."      extra node flags for every service (e.g. --max-semi-space-size=4)
 *   --no-shipped-node-options
 *                           without the node flags the image ships (deploy/Dockerfile's NODE_OPTIONS,
 *                           which the services otherwise run with)
 *   --no-build              do not run the build first
 *
 * Prints tables and writes test/output/bench/<timestamp>.json and latest.json.
 * Numbers are never assertions; failed launches are counted and shouted.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { runLevel, type LevelResult } from './full.js'
import { measureHttpFloor, measureRedisFloor, type FloorResult, type RedisFloorResult } from './floor.js'
import { measureClickToNotebook, type NotebookResult } from './notebook.js'
import { measureLimit, type LimitResult } from './limit.js'
import { machineDescription, privateMb, rssMb, busyFraction, machineCpu } from './lib/proc.js'
import { stopAll } from './lib/processes.js'
import { countPrefix, deletePrefix, keyShape, monitorCommands, openRedis, readsProcessed, type BenchRedis } from './lib/redis.js'
import { fmt, heading, table } from './lib/table.js'
import { summarizeProfiles } from './profile-summary.js'
import { SERVICES, startStack, type ServiceName, type Stack } from './stack.js'
import { runValidationSuite, type ValidationSuiteResult } from './validation-suite.js'
import { REDIS_NEEDED_PER_LAUNCH } from './targets.js'
import { launchOnce, type LaunchOutcome } from './flow.js'
import { runPool } from './lib/stats.js'

const testDir = path.resolve(import.meta.dirname, '..')
const repo = path.resolve(testDir, '..')

interface Options {
  quick: boolean
  only: Set<string>
  launches: number
  concurrency: number[]
  redis: 'auto' | 'private' | 'shared'
  validation: Set<string>
  logLevel: string
  cpuProf: boolean
  build: boolean
  experiments: string[]
  progressPollMs: number
  notebookPollMs: number
  nodeArgs: string[]
  shippedNodeOptions: boolean
}

function parseArgs (argv: string[]): Options {
  const options: Options = {
    quick: false,
    only: new Set(['limit', 'full', 'validation', 'memory', 'scaling', 'notebook']),
    launches: 10000,
    concurrency: [1, 16, 64],
    redis: 'auto',
    validation: new Set(['tool-auth', 'ltijs', 'ltiauthenticator']),
    logLevel: 'warn',
    cpuProf: false,
    build: true,
    experiments: [],
    progressPollMs: 50,
    notebookPollMs: 200,
    nodeArgs: [],
    shippedNodeOptions: true
  }
  let launchesSet = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--': break
      case '--quick': options.quick = true; break
      case '--only': options.only = new Set(value().split(',').map((s) => s.trim()).filter(Boolean)); break
      case '--launches': options.launches = Number(value()); launchesSet = true; break
      case '--concurrency': options.concurrency = value().split(',').map(Number); break
      case '--redis': options.redis = value() as Options['redis']; break
      case '--validation': options.validation = new Set(value().split(',').map((s) => s.trim())); break
      case '--log-level': options.logLevel = value(); break
      case '--cpu-prof': options.cpuProf = true; break
      case '--no-build': options.build = false; break
      case '--experiment': options.experiments.push(value()); break
      case '--progress-poll-ms': options.progressPollMs = Number(value()); break
      case '--notebook-poll-ms': options.notebookPollMs = Number(value()); break
      case '--node-args': options.nodeArgs.push(...value().split(/\s+/).filter(Boolean)); break
      case '--no-shipped-node-options': options.shippedNodeOptions = false; break
      case '--help': case '-h':
        process.stdout.write(readFileHeader())
        process.exit(0)
        break
      default: throw new Error(`unknown flag ${arg} (see --help)`)
    }
  }
  const known = ['limit', 'full', 'validation', 'memory', 'scaling', 'notebook']
  for (const section of options.only) if (!known.includes(section)) throw new Error(`--only: unknown section ${section} (${known.join(', ')})`)
  for (const experiment of options.experiments) if (!EXPERIMENTS[experiment]) throw new Error(`--experiment: unknown ${experiment} (${Object.keys(EXPERIMENTS).join(', ')})`)
  if (!['auto', 'private', 'shared'].includes(options.redis)) throw new Error('--redis: auto, private or shared')
  if (!Number.isInteger(options.launches) || options.launches < 1) throw new Error('--launches: a positive whole number')
  if (options.quick && !launchesSet) options.launches = 300
  return options
}

function readFileHeader (): string {
  return 'usage: tsx bench/run.ts [--quick] [--only limit,full,validation,memory,scaling,notebook] [--launches N]\n' +
    '       [--concurrency 1,16,64] [--redis auto|private|shared] [--validation tool-auth,ltijs,ltiauthenticator]\n' +
    '       [--log-level warn] [--cpu-prof] [--no-build]\n'
}

/** Bench-only experiments: modules preloaded into the services. */
const EXPERIMENTS: Record<string, string> = {
  autopipeline: pathToFileURL(path.join(testDir, 'bench', 'experiments', 'autopipeline.mjs')).href,
  memlog: pathToFileURL(path.join(testDir, 'bench', 'experiments', 'memlog.mjs')).href
}

const log = (line: string): void => { process.stdout.write(`${line}\n`) }
const warn = (line: string): void => { process.stderr.write(`${line}\n`) }

function levelCounts (quick: boolean, concurrency: number): number {
  if (quick) return concurrency === 1 ? 20 : concurrency * 6
  return concurrency === 1 ? 200 : concurrency <= 16 ? 1000 : 2000
}

interface Report {
  startedAt: string
  commit: string
  finishedAt?: string
  command: string
  machine: ReturnType<typeof machineDescription> & { busyDuringRun?: number, loadavgAfter?: number[] }
  options: Record<string, unknown>
  redis?: { kind: string, url: string }
  limit?: LimitResult
  httpFloor?: FloorResult
  /** CPU of one bare Redis round trip from Node (ioredis), client side. */
  redisFloor?: RedisFloorResult
  /** Click to notebook: ltilaunch against the seed's ltiauthenticator hub, real hubs, chromium. */
  notebook?: NotebookResult
  full?: LevelResult[]
  /** Redis commands of a few sequential launches, by service, command and key shape (MONITOR). */
  redisByKey?: Array<{ service: string, command: string, key: string, perLaunch: number }>
  /** Redis read events per launch over the same launches: the round trips the services made. */
  redisRoundTripsPerLaunch?: number
  memory?: { launches: number, idle: Record<string, number>, after: Record<string, number>, idlePrivate: Record<string, number>, afterPrivate: Record<string, number>, heap: Record<string, Record<string, number> | undefined>, samples: Array<{ launches: number, rssMb: Record<string, number> }>, failed: number, redisKeysLeft: number }
  scaling?: { single?: LevelResult, replicated: LevelResult, ratio?: number, requestsPerReplica: Record<string, number> }
  validation?: ValidationSuiteResult
  targets?: Array<{ target: string, value: string, goal: string, met: boolean | null }>
  failures: { total: number, where: string[] }
  profiles?: Record<string, Array<{ fn: string, selfPct: number }>>
  errors: string[]
}

/**
 * Launches before the clock starts: the JWKS cache, connection pools and,
 * above all, V8's optimizing compiler. With 20 launches the first level
 * (concurrency 1) measured twice the CPU per launch it measured after the
 * others had run.
 */
async function warmUp (stack: Stack, firstUser: number, quick: boolean): Promise<LaunchOutcome[]> {
  const outcomes: LaunchOutcome[] = []
  await runPool({
    count: quick ? 50 : 600,
    concurrency: 16,
    timeCapMs: quick ? 20000 : 60000,
    job: async (index) => { outcomes.push(await launchOnce(stack, firstUser + index)) }
  })
  return outcomes
}

/** The node flags of the container image (deploy/Dockerfile's NODE_OPTIONS): the bench measures what ships. */
function shippedNodeOptions (): string[] {
  const match = /NODE_OPTIONS="([^"]*)"/.exec(readFileSync(path.join(repo, 'deploy', 'Dockerfile'), 'utf8'))
  return match?.[1]?.split(/\s+/).filter(Boolean) ?? []
}

async function main (): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  const serviceNodeArgs = [...(options.shippedNodeOptions ? shippedNodeOptions() : []), ...options.nodeArgs]
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const runId = `${stamp.slice(0, 19)}-${randomBytes(3).toString('hex')}`
  const outDir = path.join(testDir, 'output', 'bench')
  const runDir = path.join(outDir, 'runs', runId)
  const logDir = path.join(runDir, 'logs')
  const workDir = path.join(runDir, 'work')
  const profDir = options.cpuProf ? path.join(runDir, 'profiles') : undefined
  mkdirSync(logDir, { recursive: true })
  // The harness helpers (JupyterHub, ltijs) log where this says.
  process.env.LTILAUNCH_E2E_LOG_DIR = logDir
  if (profDir) mkdirSync(profDir, { recursive: true })
  const machineStart = machineCpu()
  const report: Report = {
    startedAt: new Date().toISOString(),
    commit: gitCommit(),
    command: `tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machineDescription(),
    options: { ...options, only: [...options.only], validation: [...options.validation], serviceNodeArgs },
    failures: { total: 0, where: [] },
    errors: []
  }
  log(heading('ltilaunch bench'))
  log(`machine: ${report.machine.cpus} x ${report.machine.model}, ${report.machine.memGb} GB, node ${report.machine.node}, load average ${report.machine.loadavg.join(' ')}`)
  log(`run ${runId} at commit ${report.commit}; logs in ${path.relative(repo, logDir)}`)
  log(`services run as: node ${serviceNodeArgs.join(' ')}${options.shippedNodeOptions ? ' (the image\'s NODE_OPTIONS' + (options.nodeArgs.length ? ', then --node-args' : '') + ')' : ''} dist/server.js`)

  const needsServices = ['full', 'memory', 'scaling', 'validation'].some((s) => options.only.has(s))
  // The notebook section starts the built services too (through the end-to-end harness).
  const needsBuild = needsServices || options.only.has('notebook')
  if (needsBuild && options.build) {
    log('building the services (pnpm --filter @ltilaunch/e2e^... build) ...')
    execFileSync('pnpm', ['--filter', '@ltilaunch/e2e^...', 'run', 'build'], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  for (const service of SERVICES) {
    if (needsBuild && !existsSync(path.join(repo, 'services', service, 'dist', 'server.js'))) {
      throw new Error(`services/${service}/dist/server.js is missing: build first (pnpm build)`)
    }
  }

  let redis: BenchRedis | undefined
  const redisPrefix = `ltilaunch-bench:${runId}:`
  let single: Stack | undefined
  try {
    // 1. The limit.
    if (options.only.has('limit')) {
      log(heading('1. the limit: jose RS256, one core, in this process'))
      report.limit = await measureLimit({ quick: options.quick })
      const l = report.limit
      log(table(['operation', 'ops/s per CPU-second', 'ops/s wall', 'ops'], [
        ['sign (RS256, 2048-bit)', fmt(l.sign.perCpuSecond, 0), fmt(l.sign.perWallSecond, 0), l.sign.ops],
        ['verify', fmt(l.verify.perCpuSecond, 0), fmt(l.verify.perWallSecond, 0), l.verify.ops]
      ]))
      log(`id_token: ${l.tokenBytes} bytes`)
      // The other floor under a launch: what one HTTP request costs a server that does nothing.
      report.httpFloor = await measureHttpFloor({ repo, nodeArgs: serviceNodeArgs, logDir, quick: options.quick })
      const f = report.httpFloor
      log(`HTTP floor: a bare Fastify route in its own process costs ${fmt(f.serverCpuMsPerRequest, 3)} ms CPU per request ` +
        `(${fmt(f.perServerCpuSecond, 0)} requests per CPU-second; the bench client ${fmt(f.clientCpuMsPerRequest, 3)} ms), ${f.requests} requests at concurrency 16`)
    }

    if (needsServices) {
      redis = await openRedis({ mode: options.redis, logDir })
      report.redis = { kind: redis.kind, url: redis.url }
      log(`redis: ${redis.kind} ${redis.url}, key prefix ${redisPrefix}`)
      if (options.only.has('full')) {
        // The Redis part of the floor, measured in this run beside the HTTP part.
        report.redisFloor = await measureRedisFloor({ url: redis.url, prefix: redisPrefix, quick: options.quick })
        const r = report.redisFloor
        log(`Redis floor: a bare ioredis round trip costs the client ${fmt(r.clientCpuMsPerRoundTrip, 3)} ms CPU at concurrency 16 ` +
          `(${r.roundTrips} round trips; ${fmt(r.latencyMsAtConcurrency1, 3)} ms wall one at a time)`)
      }
    }

    // 2. Full launch, and 4. memory on the same stack.
    if (redis && (options.only.has('full') || options.only.has('memory') || options.only.has('scaling'))) {
      log(heading('2. full launch: platform -> tool-auth -> broker (dry-run) -> hub OAuth2'))
      single = await startStack({ repo, label: 'single', replicas: 1, redisUrl: redis.url, redisPrefix: `${redisPrefix}single:`, logDir, workDir: path.join(workDir, 'single'), logLevel: options.logLevel, progressPollMs: options.progressPollMs, nodeArgs: serviceNodeArgs, imports: options.experiments.map((e) => EXPERIMENTS[e] as string), ...(profDir ? { cpuProfDir: profDir } : {}) })
      await new Promise((resolve) => setTimeout(resolve, 500))
      const idle = Object.fromEntries(single.processes().map(({ service, replica, proc }) => [`${service}#${replica}`, rssMb(proc.pid)]))
      const idlePrivate = Object.fromEntries(single.processes().map(({ service, replica, proc }) => [`${service}#${replica}`, privateMb(proc.pid)]))
      let user = 0
      const warm = await warmUp(single, user, options.quick)
      user += warm.length
      single.launches += warm.length
      const warmFailed = warm.filter((outcome) => !outcome.ok)
      if (warmFailed.length > 0) {
        const first = warmFailed[0]?.failure
        warn(`\n!!! ${warmFailed.length} of ${warm.length} warm-up launches FAILED; first: ${first?.step} ${first?.status} ${first?.code}: ${first?.detail}`)
        report.failures.total += warmFailed.length
        report.failures.where.push(`warm-up: ${warmFailed.length} failed (${first?.step} ${first?.status} ${first?.code})`)
      }
      report.full = []
      if (options.only.has('full')) {
        // Which service sends which command on which key: MONITOR over a few launches, one at a time.
        const sample = 5
        let reads = 0
        const client = redis.client
        const commands = await monitorCommands(client, async () => {
          const before = await readsProcessed(client)
          for (let i = 0; i < sample; i++) await launchOnce(single as Stack, user++)
          // Less the bench's own INFO, which is a read too.
          reads = await readsProcessed(client) - before - 1
        })
        report.redisRoundTripsPerLaunch = reads / sample
        single.launches += sample
        const counts = new Map<string, number>()
        for (const { command, key } of commands) {
          if (['monitor', 'info', 'ping', 'client', 'select', 'hello'].includes(command)) continue
          const { service, shape } = keyShape(key, `${redisPrefix}single:`)
          const id = `${service}\u0000${command}\u0000${shape}`
          counts.set(id, (counts.get(id) ?? 0) + 1)
        }
        report.redisByKey = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([id, count]) => {
          const [service = '', command = '', key = ''] = id.split('\u0000')
          return { service, command, key, perLaunch: count / sample }
        })
      }
      if (options.only.has('full') || options.only.has('scaling')) {
        const levels = options.only.has('full') ? options.concurrency : [64]
        for (const concurrency of levels) {
          const count = levelCounts(options.quick, concurrency)
          log(`  concurrency ${concurrency}: ${count} launches ...`)
          const result = await runLevel({ stack: single, redis: redis.client, concurrency, count, timeCapMs: options.quick ? 20000 : 90000, userOffset: user, ...(redis.proc ? { redisPid: redis.proc.pid } : {}) })
          user += result.attempted
          report.full.push(result)
          noteFailures(report, `full c${concurrency}`, result)
        }
        if (options.only.has('full')) printFull(report.full, report.limit, report.redisByKey, report.redisRoundTripsPerLaunch)
      }

      if (options.only.has('memory')) {
        log(heading(`4. memory: RSS idle and after ${options.launches} launches`))
        const samples: Array<{ launches: number, rssMb: Record<string, number> }> = []
        const rssNow = (): Record<string, number> => Object.fromEntries((single as Stack).processes().map(({ service, replica, proc }) => [`${service}#${replica}`, rssMb(proc.pid)]))
        samples.push({ launches: single.launches, rssMb: rssNow() })
        let failed = 0
        const chunk = Math.max(100, Math.ceil(options.launches / 5))
        const deadline = Date.now() + (options.quick ? 60000 : 420000)
        while (single.launches < options.launches && Date.now() < deadline) {
          const count = Math.min(chunk, options.launches - single.launches)
          log(`  launches ${single.launches} -> ${single.launches + count} (concurrency 64) ...`)
          const result = await runLevel({ stack: single, redis: redis.client, concurrency: 64, count, timeCapMs: Math.max(1000, deadline - Date.now()), userOffset: user, ...(redis.proc ? { redisPid: redis.proc.pid } : {}) })
          user += result.attempted
          failed += result.failed
          noteFailures(report, 'memory', result)
          samples.push({ launches: single.launches, rssMb: rssNow() })
        }
        if (single.launches < options.launches) warn(`!!! memory: only ${single.launches} of ${options.launches} launches within the time cap`)
        const keysLeft = await countPrefix(redis.client, `${redisPrefix}single:`)
        // With --experiment memlog, the services' last heap figures, from their logs.
        await new Promise((resolve) => setTimeout(resolve, 2500))
        const heap = Object.fromEntries((single as Stack).processes().map(({ service, replica, proc }) => [`${service}#${replica}`, lastMemLog(proc.logFile)]))
        const afterPrivate = Object.fromEntries(single.processes().map(({ service, replica, proc }) => [`${service}#${replica}`, privateMb(proc.pid)]))
        report.memory = { launches: single.launches, idle, after: rssNow(), idlePrivate, afterPrivate, heap, samples, failed, redisKeysLeft: keysLeft }
        printMemory(report.memory)
      }
      await single.stop()
      single = undefined
    }

    // 5. Scaling: two replicas of each service behind the same Redis.
    if (redis && options.only.has('scaling')) {
      log(heading('5. scaling: two replicas of each service, one Redis, round-robin per request'))
      const replicated = await startStack({ repo, label: 'replicated', replicas: 2, redisUrl: redis.url, redisPrefix: `${redisPrefix}replicated:`, logDir, workDir: path.join(workDir, 'replicated'), logLevel: options.logLevel, progressPollMs: options.progressPollMs, nodeArgs: serviceNodeArgs, imports: options.experiments.map((e) => EXPERIMENTS[e] as string), ...(profDir ? { cpuProfDir: profDir } : {}) })
      try {
        let user = 1_000_000
        const warm = await warmUp(replicated, user, options.quick)
        user += warm.length
        const warmFailed = warm.filter((outcome) => !outcome.ok).length
        if (warmFailed) {
          report.failures.total += warmFailed
          report.failures.where.push(`scaling warm-up: ${warmFailed} failed`)
        }
        const count = levelCounts(options.quick, 64)
        log(`  concurrency 64: ${count} launches ...`)
        const result = await runLevel({ stack: replicated, redis: redis.client, concurrency: 64, count, timeCapMs: options.quick ? 20000 : 90000, userOffset: user, ...(redis.proc ? { redisPid: redis.proc.pid } : {}) })
        noteFailures(report, 'scaling', result)
        const singleResult = report.full?.find((level) => level.concurrency === 64)
        const requestsPerReplica: Record<string, number> = {}
        for (const service of SERVICES) {
          replicated.services[service].replicas.forEach((replica, i) => { requestsPerReplica[`${service}#${i}`] = replicated.router.sent.get(replica.url) ?? 0 })
        }
        report.scaling = { replicated: result, requestsPerReplica, ...(singleResult ? { single: singleResult, ratio: result.perSecond / singleResult.perSecond } : {}) }
        printScaling(report.scaling)
      } finally {
        await replicated.stop()
      }
    }

    // 3. Launch validation alone.
    if (redis && options.only.has('validation')) {
      log(heading('3. launch validation alone: pre-made (state, id_token) pairs to the callback'))
      report.validation = await runValidationSuite({
        repo,
        testDir,
        runId,
        workDir,
        logDir,
        logLevel: options.logLevel,
        redisUrl: redis.url,
        redisPrefix,
        redis: redis.client,
        count: options.quick ? 200 : 2000,
        hubCount: options.quick ? 100 : 1000,
        concurrency: 16,
        timeCapMs: options.quick ? 30000 : 90000,
        only: options.validation,
        imports: options.experiments.map((e) => EXPERIMENTS[e] as string),
        nodeArgs: serviceNodeArgs,
        ...(profDir ? { cpuProfDir: profDir } : {}),
        log
      })
      for (const [name, r] of Object.entries({ 'tool-auth': report.validation.toolAuth, ltijs: report.validation.ltijs, ltiauthenticator: report.validation.ltiauthenticator })) {
        if (r && r.failed > 0) {
          report.failures.total += r.failed
          report.failures.where.push(`validation ${name}: ${r.failed} failed ${JSON.stringify(r.failures)}`)
          warn(`\n!!! validation ${name}: ${r.failed} of ${r.requests} callbacks FAILED: ${JSON.stringify(r.failures)}`)
        }
      }
      for (const [name, message] of Object.entries(report.validation.errors)) {
        report.errors.push(`validation ${name}: ${message}`)
        warn(`\n!!! validation ${name} could not run: ${message}`)
      }
      printValidation(report.validation, report.limit)
    }

    // 6. Click to notebook: real hubs, a real browser, ltilaunch beside the seed's setup.
    if (options.only.has('notebook')) {
      log(heading('6. click to notebook: Launch pressed -> JupyterLab served by the user\'s server (chromium, real hubs, local spawner)'))
      report.notebook = await measureClickToNotebook({ quick: options.quick, progressPollMs: options.notebookPollMs, log })
      printNotebook(report.notebook)
      for (const failure of report.notebook.failures) {
        report.failures.total++
        report.failures.where.push(`notebook ${failure}`)
        warn(`!!! notebook: ${failure}`)
      }
    }
  } catch (err) {
    report.errors.push((err as Error).stack ?? String(err))
    warn(`\n!!! the bench stopped on an error: ${(err as Error).stack ?? String(err)}`)
    process.exitCode = 1
  } finally {
    await single?.stop().catch(() => {})
    await stopAll()
    if (redis) {
      if (redis.kind === 'shared') {
        const deleted = await deletePrefix(redis.client, redisPrefix).catch(() => -1)
        log(`redis: deleted ${deleted} bench keys under ${redisPrefix}`)
      }
      await redis.close()
    }
  }

  if (profDir) {
    report.profiles = summarizeProfiles(profDir, 12)
    log(heading('cpu profiles (self time, top functions)'))
    for (const [file, top] of Object.entries(report.profiles)) {
      log(`  ${file}`)
      for (const entry of top) log(`    ${fmt(entry.selfPct, 1).padStart(5)}%  ${entry.fn}`)
    }
  }

  report.targets = evaluateTargets(report)
  printTargets(report)
  report.finishedAt = new Date().toISOString()
  report.machine.busyDuringRun = busyFraction(machineStart, machineCpu())
  report.machine.loadavgAfter = machineDescription().loadavg
  if (report.failures.total > 0) {
    warn(`\n!!! ${report.failures.total} FAILED launches or callbacks in this run:`)
    for (const where of report.failures.where) warn(`!!!   ${where}`)
    process.exitCode = 1
  }
  if (report.errors.length > 0) process.exitCode = 1
  mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `${stamp}.json`)
  writeFileSync(file, JSON.stringify(report, null, 2))
  writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(report, null, 2))
  log(`\nmachine busy during the run: ${fmt((report.machine.busyDuringRun ?? 0) * 100, 0)}% of ${report.machine.cpus} cores; load average after ${report.machine.loadavgAfter.join(' ')}`)
  log(`written ${path.relative(repo, file)} and latest.json`)
}

function gitCommit (): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services', 'packages'], { cwd: repo, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head} (services or packages modified)` : head
  } catch {
    return 'unknown'
  }
}

function lastMemLog (file: string): Record<string, number> | undefined {
  try {
    const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('[bench-mem] '))
    const last = lines[lines.length - 1]
    return last ? JSON.parse(last.slice('[bench-mem] '.length)) as Record<string, number> : undefined
  } catch {
    return undefined
  }
}

function noteFailures (report: Report, where: string, result: LevelResult): void {
  if (result.failed === 0) return
  report.failures.total += result.failed
  report.failures.where.push(`${where}: ${result.failed} of ${result.attempted} failed ${JSON.stringify(result.failures)}`)
  warn(`\n!!! ${where}: ${result.failed} of ${result.attempted} launches FAILED`)
  for (const [key, count] of Object.entries(result.failures)) warn(`!!!   ${count} x ${key}`)
  for (const first of result.firstFailures) warn(`!!!   e.g. ${first.slice(0, 500)}`)
}

const SERVICE_SHORT: Record<ServiceName, string> = { platform: 'platform', 'tool-auth': 'tool-auth', 'spawner-broker': 'broker' }

function printFull (levels: LevelResult[], limit: LimitResult | undefined, byKey: Report['redisByKey'], roundTrips: number | undefined): void {
  log('')
  log(table(['concurrency', 'launches ok', 'failed', 'launches/s', '% of sign limit', 'p50 ms', 'p95 ms', 'p99 ms', 'per service CPU-s', 'machine busy', 'others'], levels.map((l) => [
    l.concurrency, l.ok, l.failed, fmt(l.perSecond), limit ? `${fmt((100 * l.perSecond) / limit.sign.perCpuSecond)}%` : '-',
    fmt(l.whole.p50), fmt(l.whole.p95), fmt(l.whole.p99), fmt(1000 / SERVICES.reduce((sum, s) => sum + l.cpuMsPerLaunch[s], 0)), `${fmt(l.machineBusy * 100, 0)}%`, `${fmt(l.othersBusy * 100, 0)}%`
  ])))
  log('(per service CPU-s: launches per CPU-second of the three services together, the rate one core would give them with no client and nothing else;')
  log(' machine busy: all cores, everything; others: the part used by processes that are not this bench\'s)')
  const steps = [...new Set(levels.flatMap((l) => Object.keys(l.steps)))]
  log('\nlatency per step, ms (p50 / p95 / p99)')
  log(table(['step', ...levels.map((l) => `c${l.concurrency}`)], steps.map((step) => [
    step, ...levels.map((l) => {
      const s = l.steps[step]
      return s ? `${fmt(s.p50)} / ${fmt(s.p95)} / ${fmt(s.p99)}` : '-'
    })
  ])))
  log('\nCPU ms per launch, per service (and the bench\'s own load generator)')
  log(table(['concurrency', ...SERVICES.map((s) => SERVICE_SHORT[s]), 'all services', 'redis', 'bench client', 'HTTP requests', 'progress events', 'stream reopened'], levels.map((l) => [
    l.concurrency, ...SERVICES.map((s) => fmt(l.cpuMsPerLaunch[s], 2)),
    fmt(SERVICES.reduce((sum, s) => sum + l.cpuMsPerLaunch[s], 0), 2), fmt(l.redisCpuMsPerLaunch, 2), fmt(l.benchCpuMsPerLaunch, 2), fmt(l.requestsPerLaunch, 1), fmt(l.pollsPerLaunch, 1), l.reconnects
  ])))
  const last = levels[levels.length - 1]
  if (last) {
    log(`\nRedis commands per launch (c${last.concurrency}; all services): ${fmt(last.redisCommandsTotalPerLaunch, 1)} in all, in ${fmt(last.redisReadsPerLaunch, 1)} read events (pipelines and, under load, concurrent writes arrive together)`)
    log(table(['command', 'per launch'], Object.entries(last.redisCommandsPerLaunch).slice(0, 14).map(([name, value]) => [name, fmt(value, 2)])))
  }
  if (byKey?.length) {
    const total = byKey.reduce((sum, row) => sum + row.perLaunch, 0)
    log(`\nRedis commands per launch by service and key (MONITOR over 5 launches, one at a time): ${fmt(total, 1)}`)
    log(table(['service', 'command', 'key', 'per launch'], byKey.map((row) => [row.service, row.command, row.key, fmt(row.perLaunch, 1)])))
  }
  const needed = designRedis()
  log(`\nthe design's Redis work per launch (targets.ts): ${needed.commands} commands in ${needed.roundTrips} round trips`)
  log(table(['step', 'commands', 'round trips', 'what'], REDIS_NEEDED_PER_LAUNCH.map((s) => [s.step, s.commands, s.roundTrips, s.why])))
  if (roundTrips !== undefined) log(`measured over the same 5 launches, one at a time (INFO stats total_reads_processed): ${fmt(roundTrips, 1)} round trips per launch`)
}

/** The design's Redis commands and round trips per launch, summed over the steps. */
function designRedis (): { commands: number, roundTrips: number } {
  return {
    commands: REDIS_NEEDED_PER_LAUNCH.reduce((sum, step) => sum + step.commands, 0),
    roundTrips: REDIS_NEEDED_PER_LAUNCH.reduce((sum, step) => sum + step.roundTrips, 0)
  }
}

function printMemory (memory: NonNullable<Report['memory']>): void {
  log('')
  const names = Object.keys(memory.idle)
  log(table(['process', 'RSS idle MB', ...memory.samples.slice(1).map((s) => `@${s.launches}`), 'RSS after MB', 'private idle', 'private after'], names.map((name) => [
    name, fmt(memory.idle[name]), ...memory.samples.slice(1).map((s) => fmt(s.rssMb[name])), fmt(memory.after[name]), fmt(memory.idlePrivate[name]), fmt(memory.afterPrivate[name])
  ])))
  log('(private: anonymous memory of the process alone; RSS also counts ~40 MB of node\'s own code pages shared by every node process)')
  for (const [name, heap] of Object.entries(memory.heap)) {
    if (heap) log(`${name} after: ${Object.entries(heap).map(([key, value]) => `${key} ${fmt(value)} MB`).join(', ')}`)
  }
  log(`launches: ${memory.launches} (${memory.failed} failed); Redis keys left under the prefix: ${memory.redisKeysLeft}`)
}

function printScaling (scaling: NonNullable<Report['scaling']>): void {
  const rows: Array<Array<string | number>> = []
  const row = (label: string, l: LevelResult): void => {
    rows.push([label, l.ok, l.failed, fmt(l.perSecond), fmt(l.whole.p50), fmt(l.whole.p99),
      fmt(SERVICES.reduce((sum, s) => sum + l.cpuMsPerLaunch[s], 0), 2), fmt(l.redisCommandsTotalPerLaunch, 1), `${fmt(l.machineBusy * 100, 0)}%`, `${fmt(l.othersBusy * 100, 0)}%`])
  }
  if (scaling.single) row('1 replica each (c64)', scaling.single)
  row('2 replicas each (c64)', scaling.replicated)
  log('')
  log(table(['setup', 'ok', 'failed', 'launches/s', 'p50 ms', 'p99 ms', 'service CPU ms/launch', 'redis cmds/launch', 'machine busy', 'others'], rows))
  log(`browser requests per replica: ${Object.entries(scaling.requestsPerReplica).map(([name, count]) => `${name} ${count}`).join(', ')} (server-to-server calls go replica i to replica i)`)
  if (scaling.ratio !== undefined) log(`two replicas / one: ${fmt(scaling.ratio, 2)}x (on ${machineDescription().cpus} cores: more processes share the same cores, so this shows the cost of sharing state, not more capacity)`)
}

function printValidation (v: ValidationSuiteResult, limit: LimitResult | undefined): void {
  const rows: Array<Array<string | number>> = []
  const toolAuth = v.toolAuth
  for (const r of [v.toolAuth, v.ltijs, v.ltiauthenticator]) {
    if (!r) continue
    rows.push([
      r.target, r.ok, r.failed, fmt(r.perSecond), fmt(r.latency.p50), fmt(r.latency.p99), fmt(r.cpuMsPerCallback, 2),
      limit ? `${fmt((100 * r.perSecond) / limit.verify.perCpuSecond)}%` : '-',
      toolAuth && r !== toolAuth ? `${fmt(toolAuth.perSecond / r.perSecond, 2)}x` : '-'
    ])
  }
  log('')
  log(table(['callback of', 'ok', 'failed', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', '% of verify limit', 'tool-auth is ahead by'], rows))
  for (const [name, why] of Object.entries(v.skipped)) warn(`!!! ${name} skipped: ${why}`)
  if (toolAuth?.redisCommandsPerRequest) {
    const perRequest = toolAuth.redisCommandsPerRequest
    const total = Object.values(perRequest).reduce((sum, value) => sum + value, 0)
    log(`tool-auth Redis commands per callback: ${fmt(total, 2)} (${Object.entries(perRequest).map(([name, value]) => `${name} ${fmt(value, 2)}`).join(', ')})`)
  }
  for (const note of v.notes) log(`note: ${note}`)
}

function printNotebook (n: NotebookResult): void {
  const ours = n.summary.ltilaunch
  const seed = n.summary.ltiauthenticator
  log(table(['setup', 'launches', 'p50 ms', 'p95 ms', 'mean ms'], [
    ['ltilaunch (platform -> tool-auth -> broker -> hub)', ours.n, fmt(ours.p50, 0), fmt(ours.p95, 0), fmt(ours.mean, 0)],
    ['seed (platform -> hub with LTI13Authenticator)', seed.n, fmt(seed.p50, 0), fmt(seed.p95, 0), fmt(seed.mean, 0)],
    ['ratio ltilaunch / seed', '', `${fmt(ours.p50 / seed.p50, 2)}x`, `${fmt(ours.p95 / seed.p95, 2)}x`, `${fmt(ours.mean / seed.mean, 2)}x`]
  ]))
  // The spawner's own time is the same work in both; the rest is what each path adds around it.
  const rows: Array<Array<string | number>> = []
  for (const [what, bySetup] of [['the hub\'s spawn (its log)', n.spawn], ['everything else (click to lab - spawn)', n.besidesSpawn]] as const) {
    rows.push([what, fmt(bySetup.ltilaunch.p50, 0), fmt(bySetup.ltiauthenticator.p50, 0), `${fmt(bySetup.ltilaunch.p50 / bySetup.ltiauthenticator.p50, 2)}x`,
      fmt(bySetup.ltilaunch.p95, 0), fmt(bySetup.ltiauthenticator.p95, 0)])
  }
  log(table(['part of the wait', 'ltilaunch p50', 'seed p50', 'ratio', 'ltilaunch p95', 'seed p95'], rows))
  log(`the broker's PROGRESS_POLL_MS: ${n.progressPollMs}`)
  for (const setup of ['ltilaunch', 'ltiauthenticator'] as const) {
    const phases = Object.entries(n.phaseP50[setup]).sort((a, b) => a[1] - b[1])
    log(`  ${setup}: when each phase began (p50 ms after the click): ${phases.map(([name, ms]) => `${name} ${fmt(ms, 0)}`).join(', ')}`)
  }
}

function evaluateTargets (report: Report): NonNullable<Report['targets']> {
  const targets: NonNullable<Report['targets']> = []
  const c64 = report.full?.find((l) => l.concurrency === 64)
  if (c64 && report.limit) {
    const share = c64.perSecond / report.limit.sign.perCpuSecond
    targets.push({ target: 'full launch at c64 vs RS256 sign limit', value: `${fmt(c64.perSecond)}/s = ${fmt(share * 100)}% of ${fmt(report.limit.sign.perCpuSecond, 0)}/s`, goal: '>= 50%', met: share >= 0.5 })
    if (report.httpFloor) {
      // What a launch costs at the least: its one signature, its one verification, and its
      // HTTP requests (the browser's, plus tool-auth's call to the broker) on a route that does nothing.
      const requests = c64.requestsPerLaunch + 1
      const floorMs = 1000 / report.limit.sign.perCpuSecond + 1000 / report.limit.verify.perCpuSecond + requests * report.httpFloor.serverCpuMsPerRequest
      const servicesMs = SERVICES.reduce((sum, s) => sum + c64.cpuMsPerLaunch[s], 0)
      targets.push({
        target: `floor: 1 sign + 1 verify + ${fmt(requests, 0)} bare HTTP requests`,
        value: `${fmt(floorMs, 2)} ms = ${fmt(1000 / floorMs, 0)} launches/CPU-s; the services use ${fmt(servicesMs, 2)} ms (${fmt(servicesMs / floorMs, 1)}x)`,
        goal: 'info',
        met: null
      })
      if (report.redisFloor) {
        // Like with like: the design's Redis round trips (targets.ts) belong in the floor too.
        const roundTrips = designRedis().roundTrips
        const withRedisMs = floorMs + roundTrips * report.redisFloor.clientCpuMsPerRoundTrip
        targets.push({
          target: `floor with Redis: the above + ${roundTrips} bare Redis round trips (the design's)`,
          value: `${fmt(withRedisMs, 2)} ms; the services use ${fmt(servicesMs, 2)} ms (${fmt(servicesMs / withRedisMs, 1)}x)`,
          goal: '<= 2x',
          met: servicesMs <= 2 * withRedisMs
        })
      }
    }
    // Waiting for the spawn is not a hop that a service works on; it is shown apart.
    const hops = Object.entries(c64.steps).filter(([step]) => !step.includes('wait-ready'))
    const worst = hops.sort((a, b) => b[1].p99 - a[1].p99)[0]
    if (worst) {
      const over = hops.filter(([, s]) => s.p99 >= 50).map(([step]) => step)
      targets.push({ target: 'p99 per step at c64', value: `worst ${worst[0]} ${fmt(worst[1].p99)} ms; ${over.length} of ${hops.length} steps >= 50 ms`, goal: '< 50 ms', met: worst[1].p99 < 50 })
    }
    const wait = c64.steps['broker wait-ready']
    if (wait) targets.push({ target: 'wait for the dry-run spawn at c64 (not a hop)', value: `p50 ${fmt(wait.p50)} / p99 ${fmt(wait.p99)} ms`, goal: 'info', met: null })
  }
  if (report.notebook && report.notebook.summary.ltilaunch.n > 0 && report.notebook.summary.ltiauthenticator.n > 0) {
    const ratio = report.notebook.summary.ltilaunch.p50 / report.notebook.summary.ltiauthenticator.p50
    targets.push({ target: 'click to notebook p50, ltilaunch / seed', value: `${fmt(ratio, 2)}x (${fmt(report.notebook.summary.ltilaunch.p50, 0)} / ${fmt(report.notebook.summary.ltiauthenticator.p50, 0)} ms)`, goal: 'close to 1x', met: null })
  }
  const v = report.validation
  if (v?.toolAuth && report.limit) {
    const share = v.toolAuth.perSecond / report.limit.verify.perCpuSecond
    targets.push({ target: 'tool-auth callback vs RS256 verify limit', value: `${fmt(v.toolAuth.perSecond)}/s = ${fmt(share * 100)}% of ${fmt(report.limit.verify.perCpuSecond, 0)}/s`, goal: '>= 60%', met: share >= 0.6 })
  }
  if (v?.toolAuth && v.ltijs) targets.push({ target: 'tool-auth callback vs ltijs', value: `${fmt(v.toolAuth.perSecond / v.ltijs.perSecond, 2)}x`, goal: '> 1x', met: v.toolAuth.perSecond > v.ltijs.perSecond })
  if (v?.toolAuth && v.ltiauthenticator) targets.push({ target: 'tool-auth callback vs ltiauthenticator', value: `${fmt(v.toolAuth.perSecond / v.ltiauthenticator.perSecond, 2)}x`, goal: '> 1x', met: v.toolAuth.perSecond > v.ltiauthenticator.perSecond })
  if (report.memory) {
    const worst = Object.entries(report.memory.after).sort((a, b) => b[1] - a[1])[0]
    if (worst) targets.push({ target: `RSS after ${report.memory.launches} launches`, value: `largest ${worst[0]} ${fmt(worst[1])} MB`, goal: '< 120 MB', met: worst[1] < 120 })
  }
  const needed = designRedis()
  if (report.redisRoundTripsPerLaunch !== undefined) {
    targets.push({ target: 'Redis round trips per launch (one at a time)', value: fmt(report.redisRoundTripsPerLaunch, 1), goal: `<= ${needed.roundTrips} (the design's)`, met: report.redisRoundTripsPerLaunch <= needed.roundTrips })
  }
  if (c64) {
    targets.push({ target: 'Redis commands per launch (c64)', value: fmt(c64.redisCommandsTotalPerLaunch, 1), goal: `<= ${needed.commands} (the design's)`, met: c64.redisCommandsTotalPerLaunch <= needed.commands })
  }
  return targets
}

function printTargets (report: Report): void {
  if (!report.targets?.length) return
  log(heading('targets (compared, never asserted)'))
  log(table(['target', 'measured', 'goal', ''], report.targets.map((t) => [t.target, t.value, t.goal, t.met === null ? '' : t.met ? 'met' : 'MISSED'])))
}

const onSignal = (signal: NodeJS.Signals): void => {
  warn(`\n${signal}: stopping every process the bench started ...`)
  stopAll().finally(() => process.exit(130))
}
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)

await main().catch(async (err: unknown) => {
  warn(`bench: ${(err as Error).stack ?? String(err)}`)
  await stopAll()
  process.exitCode = 1
})
