/**
 * `pnpm start` and `pnpm dev`: the three services on localhost, and beside
 * them a real JupyterHub (dev/hub/jupyterhub_config.py) that the broker
 * drives through its REST API, as in production.
 *
 * The hub needs Python 3.10+ with venv: on the first start the pinned
 * JupyterHub, oauthenticator and JupyterLab (test/setup/requirements.txt
 * and constraints.txt, the end-to-end suite's pins) are installed into
 * .ltilaunch/hub/venv. Where that cannot be done, one line says why and the
 * broker does a dry run instead, as `--dry-run` (or LTILAUNCH_DRY_RUN=1)
 * asks for.
 *
 *   tsx dev/start.ts [--dry-run] [--watch] [--no-build]
 *
 * --watch (`pnpm dev`): each service runs under `tsx watch` and the shared
 * packages are rebuilt on change (`turbo watch build`). Ctrl-C stops
 * everything this started. Ports and the state directory can be moved
 * (the end-to-end test does): LTILAUNCH_PLATFORM_PORT, LTILAUNCH_TOOL_AUTH_PORT,
 * LTILAUNCH_BROKER_PORT, LTILAUNCH_HUB_PORT, LTILAUNCH_STATE_DIR,
 * LTILAUNCH_HUB_VENV.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = new Set(process.argv.slice(2).filter((arg) => arg !== '--'))
for (const arg of args) {
  if (!['--dry-run', '--watch', '--no-build'].includes(arg)) {
    console.error(`dev/start.ts: unknown option ${arg} (known: --dry-run, --watch, --no-build)`)
    process.exit(2)
  }
}
const watch = args.has('--watch')
const truthy = (value: string | undefined): boolean => value !== undefined && !['', '0', 'false', 'no'].includes(value.toLowerCase())
const dryRunAsked = args.has('--dry-run') || truthy(process.env.LTILAUNCH_DRY_RUN)

const stateDir = path.resolve(process.env.LTILAUNCH_STATE_DIR ?? path.join(repoDir, '.ltilaunch'))
const hubDir = path.join(stateDir, 'hub')
const port = (name: string, fallback: number): number => {
  const value = process.env[name]
  if (value === undefined || value === '') return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) {
    console.error(`dev/start.ts: ${name}=${value} is not a port`)
    process.exit(2)
  }
  return parsed
}
const ports = {
  platform: port('LTILAUNCH_PLATFORM_PORT', 3000),
  toolAuth: port('LTILAUNCH_TOOL_AUTH_PORT', 3001),
  broker: port('LTILAUNCH_BROKER_PORT', 3002)
}
const localUrl = (p: number): string => `http://localhost:${p}`

// The dev values of dev/*.env, and the hub's client and images, in one place for the hub's config.
const HUB_CLIENT_ID = 'jupyterhub'
const HUB_CLIENT_SECRET = 'dev-only-hub-secret-0123456789abcdef'
const DEV_IMAGES = 'quay.io/jupyter/minimal-notebook:latest,quay.io/jupyter/scipy-notebook:latest,quay.io/jupyter/pytorch-notebook:latest'

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

/**
 * A service's JSON log line as a person reads it, on a terminal: the
 * services log JSON when their output is not one (it is a pipe to us).
 */
function readable (line: string): string {
  if (!process.stdout.isTTY || !line.startsWith('{')) return line
  try {
    const { level, time, msg, service: _service, ...rest } = JSON.parse(line) as Record<string, unknown>
    const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : ''
    return `${at} ${LEVELS[level as number] ?? String(level)} ${String(msg ?? '')}${extra}`
  } catch {
    return line
  }
}

function say (line: string): void {
  console.log(`[start] ${line}`)
}

/** The port if nothing listens on it, else a free one the system gives. */
async function portOr (wanted: number | undefined): Promise<number> {
  const tryListen = async (p: number): Promise<number | undefined> => await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(undefined) })
    server.listen(p, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : undefined) })
    })
  })
  if (wanted !== undefined) {
    const got = await tryListen(wanted)
    if (got !== undefined) return got
  }
  const any = await tryListen(0)
  if (any === undefined) throw new Error('no free port on 127.0.0.1')
  return any
}

/** A secret kept in the state directory across restarts, made on first use. */
function keptSecret (file: string, bytes: number): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(path.dirname(file), { recursive: true })
  const value = randomBytes(bytes).toString('hex')
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return value
}

// ------------------------------------------------------------- processes --
interface Child { name: string, proc: ChildProcess, exited: Promise<number | null> }
const children: Child[] = []
let stopping = false

/** Starts a child in its own process group (so that its own children stop with it), its lines prefixed. */
function run (name: string, cmd: string, argv: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, quiet?: (line: string) => boolean } = {}): Child {
  const proc = spawn(cmd, argv, {
    cwd: options.cwd ?? repoDir,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  const prefix = `[${name}] `
  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = ''
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) if (!options.quiet?.(line)) process.stdout.write(`${prefix}${readable(line)}\n`)
    })
  }
  const exited = new Promise<number | null>((resolve) => {
    proc.once('error', (err) => {
      say(`${name}: ${err.message}`)
      resolve(1)
    })
    proc.once('exit', (code) => { resolve(code) })
  })
  const child = { name, proc, exited }
  children.push(child)
  exited.then(async (code) => {
    if (stopping) return
    say(`${name} exited (${code ?? 'signal'}); stopping the rest`)
    await stopAll(1)
  })
  return child
}

function signalGroup (child: Child, signal: NodeJS.Signals): void {
  if (child.proc.pid === undefined || child.proc.exitCode !== null || child.proc.signalCode !== null) return
  try {
    process.kill(-child.proc.pid, signal)
  } catch {}
}

async function stopAll (code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    say('stopping everything this started')
    for (const child of children) signalGroup(child, 'SIGTERM')
    const all = Promise.all(children.map(async (child) => await child.exited))
    const late = await Promise.race([all.then(() => false), sleep(15_000).then(() => true)])
    if (late) for (const child of children) signalGroup(child, 'SIGKILL')
  }
  process.exit(code)
}

process.on('SIGINT', () => { stopAll(0).catch(() => {}) })
process.on('SIGTERM', () => { stopAll(0).catch(() => {}) })

/** Resolves once url answers with ok(), or throws when the child has exited or time is up. */
async function waitFor (child: Child, url: string, ok: (status: number, body: string) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let gone = false
  child.exited.then(() => { gone = true }, () => {})
  while (Date.now() < deadline) {
    if (gone) throw new Error(`${child.name} exited before it was ready`)
    try {
      const reply = await fetch(url, { signal: AbortSignal.timeout(2000) })
      if (ok(reply.status, await reply.text())) return
    } catch {}
    await sleep(250)
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs / 1000} s`)
}

// ------------------------------------------------------------------ hub --
interface HubPlan {
  port: number
  publicUrl: string
  tokenFile: string
  python: { venv: string, singleuser: string, jupyterhub: string }
  chp: string
}

/** Installs the hub's virtualenv where needed; a reason when the machine cannot run a hub. */
async function prepareHub (): Promise<HubPlan | string> {
  const venv = path.resolve(process.env.LTILAUNCH_HUB_VENV ?? path.join(hubDir, 'venv'))
  process.env.LTILAUNCH_PEERS_VENV = venv
  // The installer of the end-to-end peers, with the same pins: one place knows how.
  const peers = await import('../test/setup/peers.js')
  let chp: string
  try {
    chp = peers.configurableHttpProxyPath()
  } catch (err) {
    return (err as Error).message
  }
  try {
    if (!peers.venvIsCurrent()) {
      say(`installing JupyterHub, oauthenticator and JupyterLab (the pins of test/setup/requirements.txt) into ${path.relative(repoDir, venv) || venv}; the first start takes a minute or two`)
    }
    let packages = 0
    let lastShown = 0
    await peers.ensureVenv({
      log: (line) => { say(line) },
      pipOutput: (line) => {
        const match = /^(?:Collecting|Downloading|Using cached) (\S+)/.exec(line)
        if (match?.[0].startsWith('Collecting') === true) packages++
        if (/^Installing collected packages/.test(line)) say(`pip: installing ${packages} packages`)
        else if (match !== null && Date.now() - lastShown > 2000) {
          lastShown = Date.now()
          say(`pip: ${packages} packages resolved (${match[1]})`)
        }
      }
    })
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? String(err)
  }
  const wanted = port('LTILAUNCH_HUB_PORT', 8000)
  const hubPort = await portOr(wanted)
  if (hubPort !== wanted) say(`port ${wanted} is taken; the hub uses ${hubPort}`)
  return {
    port: hubPort,
    publicUrl: localUrl(hubPort),
    tokenFile: path.join(stateDir, 'hub-broker-token'),
    python: { venv, singleuser: peers.venvBin('jupyterhub-singleuser'), jupyterhub: peers.venvBin('jupyterhub') },
    chp
  }
}

async function startHub (hub: HubPlan): Promise<Child> {
  mkdirSync(hubDir, { recursive: true })
  keptSecret(path.join(hubDir, 'cookie_secret'), 32)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [path.dirname(hub.python.jupyterhub), path.dirname(hub.chp), process.env.PATH ?? ''].join(':'),
    VIRTUAL_ENV: hub.python.venv,
    PYTHONUNBUFFERED: '1',
    LTILAUNCH_HUB_DIR: hubDir,
    LTILAUNCH_HUB_PORT: String(hub.port),
    LTILAUNCH_HUB_API_PORT: String(await portOr(undefined)),
    LTILAUNCH_HUB_PROXY_API_PORT: String(await portOr(undefined)),
    LTILAUNCH_CHP: hub.chp,
    LTILAUNCH_SINGLEUSER: hub.python.singleuser,
    HUB_PUBLIC_URL: hub.publicUrl,
    OAUTH_CLIENT_ID: HUB_CLIENT_ID,
    OAUTH_CLIENT_SECRET: HUB_CLIENT_SECRET,
    // The browser goes to tool-auth's public URL; the hub itself calls it on 127.0.0.1.
    OAUTH_AUTHORIZE_URL: `${localUrl(ports.toolAuth)}/oauth2/authorize`,
    OAUTH_TOKEN_URL: `http://127.0.0.1:${ports.toolAuth}/oauth2/token`,
    OAUTH_USERDATA_URL: `http://127.0.0.1:${ports.toolAuth}/oauth2/userinfo`,
    JUPYTERHUB_CRYPT_KEY: keptSecret(path.join(hubDir, 'crypt_key'), 32),
    BROKER_HUB_API_TOKEN: keptSecret(hub.tokenFile, 24),
    ALLOWED_IMAGES: DEV_IMAGES
  }
  // A proxy token from our environment would be used instead of the hub's own.
  delete env.CONFIGPROXY_AUTH_TOKEN
  delete env.JUPYTERHUB_API_TOKEN
  const child = run('hub', hub.python.jupyterhub, ['-f', path.join(repoDir, 'dev', 'hub', 'jupyterhub_config.py')], {
    cwd: hubDir,
    env,
    // The hub logs every request; its own 200s are noise beside the services' logs.
    quiet: (line) => /^\[I [^\]]+ (?:JupyterHub|SingleUserLabApp) log:\d+\] (?:200|302|101|204) /.test(line)
  })
  return child
}

// ------------------------------------------------------------- services --
type Service = 'platform' | 'tool-auth' | 'spawner-broker'

function startService (service: Service, env: NodeJS.ProcessEnv): Child {
  const cwd = path.join(repoDir, 'services', service)
  const envFile = `--env-file=../../dev/${service}.env`
  // Our values win over the env file's (node --env-file keeps what is set).
  const childEnv = { ...process.env, ...env }
  if (watch) {
    return run(service, path.join(repoDir, 'node_modules', '.bin', 'tsx'), ['watch', '--clear-screen=false', envFile, 'src/server.ts'], { cwd, env: childEnv })
  }
  return run(service, process.execPath, [envFile, 'dist/server.js'], { cwd, env: childEnv })
}

/** The platform's registration of tool-auth (dev/platform/tools.json), moved to tool-auth's port. */
function toolsFile (): string {
  const dev = path.join(repoDir, 'dev', 'platform', 'tools.json')
  if (ports.toolAuth === 3001) return dev
  const moved = readFileSync(dev, 'utf8').replaceAll('http://localhost:3001', localUrl(ports.toolAuth))
  const file = path.join(stateDir, 'platform-tools.json')
  writeFileSync(file, moved)
  return file
}

async function build (): Promise<void> {
  say(watch ? 'building the shared packages' : 'building (turbo run build)')
  const turbo = path.join(repoDir, 'node_modules', '.bin', 'turbo')
  const argv = ['run', 'build', '--output-logs=errors-only', ...(watch ? ['--filter=./packages/*'] : [])]
  const code = await new Promise<number | null>((resolve) => {
    const proc = spawn(turbo, argv, { cwd: repoDir, stdio: 'inherit' })
    proc.once('error', () => { resolve(1) })
    proc.once('exit', resolve)
  })
  if (code !== 0) {
    say(`the build failed (exit ${code}); fix it and start again`)
    process.exit(1)
  }
}

async function main (): Promise<void> {
  mkdirSync(stateDir, { recursive: true })
  if (!args.has('--no-build')) await build()

  let hub: HubPlan | undefined
  if (dryRunAsked) {
    say('dry run (as asked): no hub; the broker shows what it would start')
  } else {
    const prepared = await prepareHub()
    if (typeof prepared === 'string') say(`no local JupyterHub, so a dry run: ${prepared}`)
    else hub = prepared
  }

  const hubChild = hub ? await startHub(hub) : undefined
  const hubPublicUrl = hub?.publicUrl ?? localUrl(8000)
  if (watch) {
    run('packages', path.join(repoDir, 'node_modules', '.bin', 'turbo'), ['watch', 'build', '--filter=./packages/*', '--output-logs=errors-only'])
  }
  const broker = startService('spawner-broker', {
    PORT: String(ports.broker),
    PUBLIC_URL: localUrl(ports.broker),
    ...(hub
      ? {
          SPAWN_DRIVER: 'jupyterhub',
          HUB_URL: `http://127.0.0.1:${hub.port}`,
          HUB_PUBLIC_URL: hub.publicUrl,
          HUB_API_TOKEN_FILE: hub.tokenFile,
          HUB_NAMED_SERVERS: 'true',
          SPAWN_TIMEOUT: '120'
        }
      : { SPAWN_DRIVER: 'dry-run', HUB_PUBLIC_URL: hubPublicUrl })
  })
  const platform = startService('platform', {
    PORT: String(ports.platform),
    PUBLIC_URL: localUrl(ports.platform),
    PLATFORM_ISSUER: localUrl(ports.platform),
    PLATFORM_TOOLS_FILE: toolsFile(),
    PLATFORM_KEY_DIR: path.join(stateDir, 'platform')
  })
  const toolAuth = startService('tool-auth', {
    PORT: String(ports.toolAuth),
    PUBLIC_URL: localUrl(ports.toolAuth),
    issuer: localUrl(ports.platform),
    authorize_url: `${localUrl(ports.platform)}/lti/authorize`,
    jwks_endpoint: `${localUrl(ports.platform)}/.well-known/jwks.json`,
    BROKER_URL: localUrl(ports.broker),
    HUB_REDIRECT_URI: `${hubPublicUrl}/hub/oauth_callback`,
    HUB_URL: `${hubPublicUrl}/hub/`,
    TOOL_KEY_DIR: path.join(stateDir, 'tool-auth')
  })

  const ready = (status: number): boolean => status === 200
  try {
    await Promise.all([
      waitFor(platform, `http://127.0.0.1:${ports.platform}/readyz`, ready, 120_000),
      waitFor(toolAuth, `http://127.0.0.1:${ports.toolAuth}/readyz`, ready, 120_000),
      waitFor(broker, `http://127.0.0.1:${ports.broker}/readyz`, ready, 120_000),
      ...(hubChild && hub ? [waitFor(hubChild, `http://127.0.0.1:${hub.port}/hub/api/`, (status, body) => status === 200 && body.includes('"version"'), 120_000)] : [])
    ])
  } catch (err) {
    say((err as Error).message)
    await stopAll(1)
  }
  say('')
  say(`ready: open ${localUrl(ports.platform)} and sign in as grace / grace-dev-password (or ada, alan: see README)`)
  if (hub) {
    say(`JupyterHub at ${hub.publicUrl}: each launch starts a local JupyterLab as you (LocalImageSpawner); the chosen image is recorded in the server's environment (JUPYTER_IMAGE) but not run, which takes DockerSpawner or KubeSpawner (deploy/)`)
  } else {
    say('dry run: the broker shows what it would start; nothing is started')
  }
  say(`Ctrl-C stops everything${watch ? '; a change in services/ or packages/ restarts what it touches' : ''}`)
}

await main()
