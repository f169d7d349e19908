import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { Router } from './lib/client.js'
import { freePort, startProcess, type BenchProcess } from './lib/processes.js'
import { rssMb } from './lib/proc.js'

/**
 * The three services as real processes (`node services/<svc>/dist/server.js`)
 * on free loopback ports, wired to each other and to one Redis, with the
 * broker on its dry-run driver. With `replicas: 2` every service runs twice;
 * each service then has one public origin (what its PUBLIC_URL says, as a
 * load balancer would own it) that the bench's Router spreads over the
 * replicas request by request, so one launch moves between replicas.
 * Server-to-server calls (tool-auth to the broker and to the platform's
 * JWKS) go from replica i to replica i of the peer.
 */

export const SERVICES = ['platform', 'tool-auth', 'spawner-broker'] as const
export type ServiceName = (typeof SERVICES)[number]

export const CLIENT_ID = 'ltilaunch-jupyterhub'
export const DEPLOYMENT_ID = '1'
export const HUB_CLIENT_ID = 'jupyterhub'
export const IMAGES = {
  minimal: 'quay.io/jupyter/minimal-notebook:latest',
  scipy: 'quay.io/jupyter/scipy-notebook:latest',
  pytorch: 'quay.io/jupyter/pytorch-notebook:latest'
}

export interface ServiceInstance {
  name: ServiceName
  publicUrl: string
  replicas: Array<{ url: string, proc: BenchProcess }>
}

export interface Stack {
  label: string
  services: Record<ServiceName, ServiceInstance>
  router: Router
  /** Where the hub would be: browsers that reach it stop; nothing listens there. */
  hubPublicUrl: string
  hubRedirectUri: string
  hubClientSecret: string
  brokerToken: string
  platformApiKey: string
  redisPrefix: string
  /** RSS of each process right after start, before any launch. */
  idleRss: Array<{ service: ServiceName, replica: number, pid: number, rssMb: number }>
  /** Launches (attempted) through this stack so far. */
  launches: number
  processes: () => Array<{ service: ServiceName, replica: number, proc: BenchProcess }>
  stop: () => Promise<void>
}

function pem (): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

const secret = (): string => randomBytes(32).toString('hex')

export async function startStack (options: {
  repo: string
  label: string
  replicas: number
  redisUrl: string
  redisPrefix: string
  logDir: string
  workDir: string
  logLevel: string
  cpuProfDir?: string
  /** The broker's PROGRESS_POLL_MS: how often an open progress stream looks at the record. */
  progressPollMs: number
  /** Modules to preload into every service (`node --import`), for bench-only experiments. */
  imports?: string[]
  /** Further node flags for every service (e.g. --max-semi-space-size=4), for experiments. */
  nodeArgs?: string[]
}): Promise<Stack> {
  const { replicas } = options
  mkdirSync(options.workDir, { recursive: true })
  const ports: Record<ServiceName, number[]> = { platform: [], 'tool-auth': [], 'spawner-broker': [] }
  const publicUrls = {} as Record<ServiceName, string>
  for (const name of SERVICES) {
    for (let i = 0; i < replicas; i++) ports[name].push(await freePort())
    // One replica: the public URL is the process. Several: a virtual origin the Router balances.
    publicUrls[name] = `http://127.0.0.1:${replicas === 1 ? ports[name][0] as number : await freePort()}`
  }
  const realUrl = (name: ServiceName, i: number): string => `http://127.0.0.1:${ports[name][i] as number}`
  const hubPublicUrl = `http://127.0.0.1:${await freePort()}`
  const hubRedirectUri = `${hubPublicUrl}/hub/oauth_callback`
  const brokerToken = `bench-broker-token-${secret()}`
  const hubClientSecret = `bench-hub-secret-${secret()}`
  const platformApiKey = `bench-api-key-${secret()}`
  const platformKey = pem()
  const toolKey = pem()
  const platformSecrets = { session: secret(), subject: secret() }
  const toolAuth = publicUrls['tool-auth']
  const platform = publicUrls.platform

  const tools = [{
    client_id: CLIENT_ID,
    name: 'JupyterHub (bench)',
    deployment_ids: [DEPLOYMENT_ID],
    initiate_login_uri: `${toolAuth}/lti13/oauth_login`,
    target_link_uri: `${toolAuth}/lti13/launch`,
    redirect_uris: [`${toolAuth}/lti13/oauth_callback`],
    jwks_uri: `${toolAuth}/lti13/jwks`,
    custom: { lms_user_id: '$User.id' },
    images: Object.values(IMAGES)
  }]

  const common = (name: ServiceName, i: number): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(ports[name][i]),
    PUBLIC_URL: publicUrls[name],
    LOG_LEVEL: options.logLevel,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: `${options.redisPrefix}${name}:`,
    SHUTDOWN_GRACE_MS: '2000'
  })

  const envFor = (name: ServiceName, i: number): NodeJS.ProcessEnv => {
    switch (name) {
      case 'platform':
        return {
          ...common(name, i),
          PLATFORM_ISSUER: platform,
          PLATFORM_TOOLS: JSON.stringify(tools),
          PLATFORM_USERS: JSON.stringify({ courses: [{ id: 'bench-course', label: '6.0001', title: 'Introduction to Programming' }], users: [] }),
          PLATFORM_SIGNING_KEY: platformKey,
          PLATFORM_API_KEYS: `sha256:${createHash('sha256').update(platformApiKey).digest('hex')}`,
          PLATFORM_SESSION_SECRET: platformSecrets.session,
          PLATFORM_SUBJECT_SECRET: platformSecrets.subject,
          PLATFORM_KEY_DIR: path.join(options.workDir, 'platform')
        }
      case 'tool-auth':
        return {
          ...common(name, i),
          issuer: platform,
          client_id: CLIENT_ID,
          authorize_url: `${platform}/lti/authorize`,
          // Server to server: straight to a replica, not through the browsers' balancer.
          jwks_endpoint: `${realUrl('platform', i)}/.well-known/jwks.json`,
          deployment_ids: DEPLOYMENT_ID,
          uri_scheme: 'http',
          ALLOWED_HOSTS: new URL(toolAuth).host,
          BROKER_URL: realUrl('spawner-broker', i),
          BROKER_SERVICE_TOKEN: brokerToken,
          HUB_CLIENT_ID,
          HUB_CLIENT_SECRET: hubClientSecret,
          HUB_REDIRECT_URI: hubRedirectUri,
          TOOL_KEY: toolKey,
          TOOL_KEY_DIR: path.join(options.workDir, 'tool-auth'),
          // The bench is one client address; a per-address limit would measure the limiter.
          RATE_LIMIT_MAX: '0'
        }
      case 'spawner-broker':
        return {
          ...common(name, i),
          BROKER_SERVICE_TOKEN: brokerToken,
          ALLOWED_IMAGES: Object.entries(IMAGES).map(([alias, image]) => `${alias}=${image}`).join(','),
          DEFAULT_IMAGE: IMAGES.minimal,
          SPAWN_DRIVER: 'dry-run',
          // The dry-run driver's pretend spawn pauses between its messages; none here, so the
          // wait is the broker's own machinery (queue, worker, records, progress stream).
          DRY_RUN_STEP_MS: '0',
          PROGRESS_POLL_MS: String(options.progressPollMs),
          HUB_PUBLIC_URL: hubPublicUrl
        }
    }
  }

  const router = new Router()
  const instances = {} as Record<ServiceName, ServiceInstance>
  const started: BenchProcess[] = []
  const stopStarted = async (): Promise<void> => {
    // tool-auth first, so nothing calls a stopped peer; SIGTERM lets --cpu-prof write its profile.
    for (const name of ['tool-auth', 'platform', 'spawner-broker'] as ServiceName[]) {
      await Promise.all((instances[name]?.replicas ?? []).map(async (replica) => await replica.proc.stop()))
    }
    await Promise.all(started.map(async (proc) => await proc.stop()))
  }
  // The broker first, then the platform, then tool-auth (which fetches the platform's JWKS).
  const order: ServiceName[] = ['spawner-broker', 'platform', 'tool-auth']
  try {
    for (const name of order) {
      const replicasOf = await Promise.all(Array.from({ length: replicas }, async (_, i) => {
        const nodeArgs = options.cpuProfDir
          ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${options.label}-${name}-${i}.cpuprofile`]
          : []
        for (const module of options.imports ?? []) nodeArgs.push(`--import=${module}`)
        nodeArgs.push(...(options.nodeArgs ?? []))
        const proc = await startProcess({
          name: `${options.label}-${name}-${i}`,
          cmd: process.execPath,
          args: [...nodeArgs, path.join(options.repo, 'services', name, 'dist', 'server.js')],
          cwd: path.join(options.repo, 'services', name),
          env: envFor(name, i),
          logDir: options.logDir,
          readyUrl: `${realUrl(name, i)}/readyz`,
          timeoutMs: 30000,
          graceMs: 8000
        })
        started.push(proc)
        return { url: realUrl(name, i), proc }
      }))
      instances[name] = { name, publicUrl: publicUrls[name], replicas: replicasOf }
      router.add(publicUrls[name], replicasOf.map((replica) => replica.url))
    }
  } catch (err) {
    await stopStarted()
    throw err
  }
  const processes = (): Array<{ service: ServiceName, replica: number, proc: BenchProcess }> =>
    SERVICES.flatMap((service) => instances[service].replicas.map((replica, i) => ({ service, replica: i, proc: replica.proc })))
  const stop = stopStarted
  return {
    label: options.label,
    services: instances,
    router,
    hubPublicUrl,
    hubRedirectUri,
    hubClientSecret,
    brokerToken,
    platformApiKey,
    redisPrefix: options.redisPrefix,
    idleRss: processes().map(({ service, replica, proc }) => ({ service, replica, pid: proc.pid, rssMb: rssMb(proc.pid) })),
    launches: 0,
    processes,
    stop
  }
}
