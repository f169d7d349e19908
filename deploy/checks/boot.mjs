// Proves that each image's start command boots and drains, as a plain process:
// for each service, `pnpm --filter @ltilaunch/<svc> deploy --prod <tmp>` (what
// deploy/Dockerfile does), then `node dist/server.js` in <tmp> with
// NODE_ENV=production and the settings of checks/boot-env.mjs; wait for
// /healthz and /readyz to answer 200; SIGTERM; the process must exit 0 within
// SHUTDOWN_GRACE_MS (plus a margin).
//
// usage: node deploy/checks/boot.mjs [service ...]   (the workspace must be built)
// With REDIS_URL set, the services use that Redis under a throwaway key prefix.
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { bootEnv } from './boot-env.mjs'

const root = resolvePath(import.meta.dirname, '../..')
const SERVICES = ['platform', 'tool-auth', 'spawner-broker']
const GRACE_MS = 5000
const BOOT_TIMEOUT_MS = 20000

const freePort = () => new Promise((resolve, reject) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address()
    server.close(() => resolve(port))
  }).on('error', reject)
})

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function get (url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return { status: response.status, body: await response.text() }
  } catch (err) {
    return { status: 0, body: String(err.cause?.code ?? err.message) }
  }
}

async function waitFor (url, until, child) {
  let last
  while (Date.now() < until) {
    if (child.exitCode !== null) return { status: -1, body: `exited with ${child.exitCode}` }
    last = await get(url)
    if (last.status === 200) return last
    await sleep(200)
  }
  return last ?? { status: 0, body: 'timed out' }
}

async function bootOne (service, ports, workDir) {
  const started = Date.now()
  const out = join(workDir, service)
  execFileSync('pnpm', ['--filter', `@ltilaunch/${service}`, 'deploy', '--prod', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
  for (const dev of ['tap', 'tsx', 'typescript', 'eslint']) {
    if (existsSync(join(out, 'node_modules', dev))) throw new Error(`${service}: the production deploy holds the dev dependency ${dev}`)
  }
  const files = join(workDir, `${service}-files`)
  mkdirSync(files)

  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(ports[service]),
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    ...bootEnv(service, { dir: files, ports })
  }
  if (process.env.REDIS_URL) {
    env.REDIS_URL = process.env.REDIS_URL
    env.REDIS_KEY_PREFIX = `${keyPrefix}${service}:`
  }

  const child = spawn(process.execPath, ['dist/server.js'], { cwd: out, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (chunk) => { log += chunk })
  child.stderr.on('data', (chunk) => { log += chunk })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))

  const base = `http://127.0.0.1:${ports[service]}`
  const problems = []
  try {
    const until = Date.now() + BOOT_TIMEOUT_MS
    const health = await waitFor(`${base}/healthz`, until, child)
    if (health.status !== 200) problems.push(`/healthz never answered 200 (last: ${health.status} ${health.body})`)
    const ready = await waitFor(`${base}/readyz`, until, child)
    if (ready.status !== 200) problems.push(`/readyz never answered 200 (last: ${ready.status} ${ready.body})`)
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM')
  }
  const termAt = Date.now()
  const result = await Promise.race([exited, sleep(GRACE_MS + 3000).then(() => null)])
  if (result === null) {
    child.kill('SIGKILL')
    await exited
    problems.push(`did not exit within ${GRACE_MS + 3000} ms of SIGTERM`)
  } else if (result.code !== 0) {
    problems.push(`exited with ${result.code ?? result.signal} after SIGTERM (want 0)`)
  }
  const drainMs = Date.now() - termAt
  return { service, problems, log, bootMs: termAt - started, drainMs }
}

// Keys written under this prefix are deleted at the end (best effort, with redis-cli).
const keyPrefix = `ltilaunch-bootcheck-${process.pid}:`
function deleteKeys () {
  if (!process.env.REDIS_URL) return
  const url = process.env.REDIS_URL
  const scan = spawnSync('redis-cli', ['-u', url, '--scan', '--pattern', `${keyPrefix}*`], { encoding: 'utf8' })
  const keys = (scan.stdout ?? '').split('\n').filter(Boolean)
  if (keys.length > 0) spawnSync('redis-cli', ['-u', url, 'DEL', ...keys])
}

const wanted = process.argv.slice(2)
const services = wanted.length > 0 ? wanted : SERVICES
for (const service of services) if (!SERVICES.includes(service)) throw new Error(`unknown service ${service}`)

const ports = {}
for (const service of SERVICES) ports[service] = await freePort()
const workDir = mkdtempSync(join(tmpdir(), 'ltilaunch-boot-'))
let failed = 0
try {
  for (const service of services) {
    const { problems, log, bootMs, drainMs } = await bootOne(service, ports, workDir)
    if (problems.length === 0) {
      console.log(`ok   ${service}: deployed, booted, /healthz and /readyz 200, SIGTERM → exit 0 (${bootMs} ms up, ${drainMs} ms drain)`)
    } else {
      failed++
      console.log(`FAIL ${service}:\n  - ${problems.join('\n  - ')}\n  log:\n${log.replace(/^/gm, '    ')}`)
    }
  }
} finally {
  rmSync(workDir, { recursive: true, force: true })
  deleteKeys()
}
process.exit(failed > 0 ? 1 : 0)
