/**
 * Our three services as real processes (`node services/<svc>/dist/server.js`)
 * on free loopback ports, wired to each other, to the test Redis (a fresh key
 * prefix per service and run, deleted at the end) and optionally to a
 * JupyterHub (the broker's jupyterhub driver, the hub's OAuth client at
 * tool-auth). Values are the dev values of dev/*.env and dev/platform/*.json
 * with the ports and URLs changed.
 *
 * Ports are chosen first (planStack), so that a hub whose config names
 * tool-auth can start before the services that name the hub.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { deletePrefix, testRedisUrl } from '@ltilaunch/service-kit/testing'
import { Redis } from 'ioredis'
import { BrowserClient, type Page } from '../harness/browser-client.js'
import { freePorts, startProcess, type ManagedProcess, type Teardown } from '../harness/processes.js'
import { outputDir, testDir } from '../setup/peers.js'

export const repoDir = path.resolve(testDir, '..')
/** Where the built services are (LTILAUNCH_E2E_SERVICES_DIR: another build, e.g. a patched one). */
export const servicesDir = process.env.LTILAUNCH_E2E_SERVICES_DIR ?? path.join(repoDir, 'services')

/** The shared values (common brief): client ids, deployment, dev images, secrets. */
export const CLIENT_ID = 'ltilaunch-jupyterhub'
export const DEPLOYMENT_ID = '1'
export const HUB_CLIENT_ID = 'jupyterhub'
export const HUB_CLIENT_SECRET = 'dev-only-hub-secret-0123456789abcdef'
export const BROKER_TOKEN = 'dev-only-broker-token-0123456789abcdef'
export const IMAGES = {
  minimal: 'quay.io/jupyter/minimal-notebook:latest',
  scipy: 'quay.io/jupyter/scipy-notebook:latest',
  pytorch: 'quay.io/jupyter/pytorch-notebook:latest'
} as const
/** The demo users of dev/platform/users.json. */
export const USERS = {
  ada: { password: 'ada-dev-password', email: 'ada@example.edu' },
  grace: { password: 'grace-dev-password', email: 'grace@example.edu' },
  alan: { password: 'alan-dev-password', email: 'alan@example.edu' }
} as const
export type DemoUser = keyof typeof USERS

export const LTI = 'https://purl.imsglobal.org/spec/lti/claim/'

export interface StackPlan {
  /** Names the run: logs, Redis prefix, work directory. */
  name: string
  platformPort: number
  toolAuthPort: number
  brokerPort: number
  /** Reserved for a hub (its public, proxy port). */
  hubPort: number
  platformUrl: string
  toolAuthUrl: string
  brokerUrl: string
  hubUrl: string
  workDir: string
  redisPrefix: string
}

/** Chooses free ports and the URLs of a stack (and of its hub), all on 127.0.0.1. */
export async function planStack (name: string): Promise<StackPlan> {
  const [platformPort, toolAuthPort, brokerPort, hubPort] = await freePorts(4) as [number, number, number, number]
  const base = path.join(outputDir, 'e2e')
  mkdirSync(base, { recursive: true })
  // Keep the last few runs' directories of this name, not every one.
  const earlier = readdirSync(base).filter((entry) => entry.startsWith(`${name}-`)).map((entry) => path.join(base, entry))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  for (const dir of earlier.slice(4)) rmSync(dir, { recursive: true, force: true })
  const url = (port: number): string => `http://127.0.0.1:${port}`
  return {
    name,
    platformPort,
    toolAuthPort,
    brokerPort,
    hubPort,
    platformUrl: url(platformPort),
    toolAuthUrl: url(toolAuthPort),
    brokerUrl: url(brokerPort),
    hubUrl: url(hubPort),
    workDir: mkdtempSync(path.join(base, `${name}-`)),
    redisPrefix: `ltilaunch-e2e:${name}:${randomBytes(6).toString('hex')}:`
  }
}

/** A tool registration as the platform's PLATFORM_TOOLS_FILE takes it. */
export interface ToolRegistration {
  client_id: string
  name: string
  deployment_ids: string[]
  initiate_login_uri: string
  target_link_uri: string
  redirect_uris: string[]
  jwks_uri?: string
  /** Where the platform sends deep linking requests (course staff adding links). */
  deep_linking_url?: string
  custom?: Record<string, string>
  images?: Array<string | { value: string, label: string }>
  send_name?: boolean
  send_email?: boolean
  login_initiation_method?: 'get' | 'post'
  /** The LTI service scopes (AGS, NRPS) it may be granted at /lti/token (default: all, with jwks_uri). */
  scopes?: string[]
}

/** Our tool-auth as dev/platform/tools.json registers it, on this stack's ports. */
export function ourToolRegistration (plan: StackPlan, extraImages: Array<{ value: string, label: string }> = []): ToolRegistration {
  return {
    client_id: CLIENT_ID,
    name: 'JupyterHub (ltilaunch)',
    deployment_ids: [DEPLOYMENT_ID],
    initiate_login_uri: `${plan.toolAuthUrl}/lti13/oauth_login`,
    target_link_uri: `${plan.toolAuthUrl}/lti13/launch`,
    redirect_uris: [`${plan.toolAuthUrl}/lti13/oauth_callback`],
    jwks_uri: `${plan.toolAuthUrl}/lti13/jwks`,
    custom: { context_label: '$Context.label', user_username: '$User.username' },
    images: [
      { value: IMAGES.minimal, label: 'Minimal notebook' },
      { value: IMAGES.scipy, label: 'SciPy notebook' },
      { value: IMAGES.pytorch, label: 'PyTorch notebook' },
      ...extraImages
    ],
    send_name: true,
    send_email: true
  }
}

export interface StackOptions {
  /** The platform's registrations (default: our tool-auth only). */
  tools?: ToolRegistration[]
  /** Start tool-auth and the broker (default true); false: the platform alone. */
  ourTool?: boolean
  /** A hub for the broker's jupyterhub driver and the hub's OAuth client at tool-auth. */
  hub?: { apiToken: string }
  /** tool-auth starts with no platform configured: the platform registers by URL (LTI Dynamic Registration). */
  registerByUrl?: boolean
  /**
   * A Redis topology of the services' own (REDIS_CLUSTER_NODES or
   * REDIS_SENTINELS and REDIS_SENTINEL_NAME, from harness/redis-topologies.ts)
   * instead of the shared test Redis; its keys go with it.
   */
  redis?: { REDIS_CLUSTER_NODES?: string, REDIS_SENTINELS?: string, REDIS_SENTINEL_NAME?: string }
  /** Extra environment per service (e.g. ID_TOKEN_TTL, time_leeway). */
  env?: { platform?: NodeJS.ProcessEnv, toolAuth?: NodeJS.ProcessEnv, broker?: NodeJS.ProcessEnv }
}

export interface Stack {
  plan: StackPlan
  platform: ManagedProcess
  toolAuth?: ManagedProcess
  /** The environment tool-auth runs with (for its operator commands). */
  toolAuthEnv?: NodeJS.ProcessEnv
  broker?: ManagedProcess
  /** The environment the broker runs with (for a second replica). */
  brokerEnv?: NodeJS.ProcessEnv
  toolsFile: string
  /** GET /v1/launches/:id at the broker, with the service token. */
  brokerLaunch: (id: string) => Promise<BrokerLaunchRecord>
  /**
   * Stops one service and starts it again with the same environment (same
   * keys, Redis prefix and port): what survives a restart is what it keeps
   * in Redis. A process the test already stopped is just started.
   */
  restart: (service: 'platform' | 'tool-auth') => Promise<ManagedProcess>
  stop: () => Promise<void>
}

export interface BrokerLaunchRecord {
  id: string
  status: 'pending' | 'spawning' | 'ready' | 'failed'
  username: string
  role: string
  image: string
  serverName: string
  serverUrl?: string
  reason?: string
  course?: { id: string, label?: string, title?: string }
}

function pem (): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

const secret = (): string => randomBytes(32).toString('hex')

/**
 * Starts the platform, and (unless ourTool is false) the broker and
 * tool-auth, each stopped by t's teardown; their Redis keys are deleted at
 * the end.
 */
export async function startStack (t: Teardown, plan: StackPlan, options: StackOptions = {}): Promise<Stack> {
  const ourTool = options.ourTool ?? true
  const redisUrl = testRedisUrl()
  const redis = options.redis === undefined ? new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true }) : undefined
  await redis?.connect()
  const started: ManagedProcess[] = []
  // Teardowns may run in any order: stop the services (again: stop() is idempotent) before deleting
  // their keys, or a broker still running would make its stream again.
  t.teardown(async () => {
    for (const proc of started.reverse()) await proc.stop()
    if (redis === undefined) return
    await deletePrefix(redis, plan.redisPrefix)
    await redis.quit()
  })
  const tools = options.tools ?? [ourToolRegistration(plan)]
  const toolsFile = path.join(plan.workDir, 'tools.json')
  writeFileSync(toolsFile, JSON.stringify({ tools }, null, 2))

  const common = (service: string, port: number, publicUrl: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: 'info',
    ...(options.redis ?? { REDIS_URL: redisUrl }),
    REDIS_KEY_PREFIX: `${plan.redisPrefix}${service}:`,
    SHUTDOWN_GRACE_MS: '2000'
  })
  const start = async (service: 'platform' | 'tool-auth' | 'spawner-broker', env: NodeJS.ProcessEnv, url: string): Promise<ManagedProcess> => {
    const proc = await startProcess(t, {
      name: `${plan.name}-${service}`,
      cmd: process.execPath,
      args: [path.join(servicesDir, service, 'dist', 'server.js')],
      cwd: path.join(servicesDir, service),
      env,
      readyUrl: { url: `${url}/readyz`, ok: (status) => status === 200 },
      timeoutMs: 30_000,
      graceMs: 5000
    })
    started.push(proc)
    return proc
  }

  let broker: ManagedProcess | undefined
  let brokerEnv: NodeJS.ProcessEnv | undefined
  let toolAuth: ManagedProcess | undefined
  if (ourTool) {
    brokerEnv = {
      ...common('spawner-broker', plan.brokerPort, plan.brokerUrl),
      BROKER_SERVICE_TOKEN: BROKER_TOKEN,
      ALLOWED_IMAGES: Object.entries(IMAGES).map(([alias, image]) => `${alias}=${image}`).join(','),
      DEFAULT_IMAGE: IMAGES.minimal,
      ...(options.hub
        ? {
            HUB_URL: plan.hubUrl,
            HUB_PUBLIC_URL: plan.hubUrl,
            HUB_API_TOKEN: options.hub.apiToken,
            HUB_NAMED_SERVERS: 'true',
            SPAWN_TIMEOUT: '120'
          }
        : { SPAWN_DRIVER: 'dry-run', HUB_PUBLIC_URL: plan.hubUrl }),
      ...options.env?.broker
    }
    broker = await start('spawner-broker', brokerEnv, plan.brokerUrl)
  }
  const platformEnv: NodeJS.ProcessEnv = {
    ...common('platform', plan.platformPort, plan.platformUrl),
    PLATFORM_ISSUER: plan.platformUrl,
    PLATFORM_NAME: 'ltilaunch e2e platform',
    PLATFORM_TOOLS_FILE: toolsFile,
    PLATFORM_USERS_FILE: path.join(repoDir, 'dev', 'platform', 'users.json'),
    PLATFORM_SIGNING_KEY: pem(),
    PLATFORM_SESSION_SECRET: secret(),
    PLATFORM_SUBJECT_SECRET: secret(),
    PLATFORM_API_KEYS: `sha256:${createHash('sha256').update(secret()).digest('hex')}`,
    PLATFORM_KEY_DIR: path.join(plan.workDir, 'platform'),
    ...options.env?.platform
  }
  const platform = await start('platform', platformEnv, plan.platformUrl)
  let toolAuthEnv: NodeJS.ProcessEnv | undefined
  if (ourTool) {
    toolAuthEnv = {
      ...common('tool-auth', plan.toolAuthPort, plan.toolAuthUrl),
      ...(options.registerByUrl === true
        ? {}
        : {
            issuer: plan.platformUrl,
            client_id: CLIENT_ID,
            authorize_url: `${plan.platformUrl}/lti/authorize`,
            jwks_endpoint: `${plan.platformUrl}/.well-known/jwks.json`,
            deployment_ids: DEPLOYMENT_ID
          }),
      username_key: 'email',
      BROKER_URL: plan.brokerUrl,
      BROKER_SERVICE_TOKEN: BROKER_TOKEN,
      HUB_CLIENT_ID,
      HUB_CLIENT_SECRET,
      HUB_REDIRECT_URI: `${plan.hubUrl}/hub/oauth_callback`,
      HUB_URL: `${plan.hubUrl}/hub/`,
      TOOL_KEY: pem(),
      TOOL_KEY_DIR: path.join(plan.workDir, 'tool-auth'),
      ...options.env?.toolAuth
    }
    toolAuth = await start('tool-auth', toolAuthEnv, plan.toolAuthUrl)
  }
  const stop = async (): Promise<void> => {
    for (const proc of [stack.toolAuth, stack.platform, broker]) await proc?.stop()
  }
  const stack: Stack = {
    plan,
    platform,
    ...(toolAuth ? { toolAuth } : {}),
    ...(toolAuthEnv ? { toolAuthEnv } : {}),
    ...(broker ? { broker } : {}),
    ...(brokerEnv ? { brokerEnv } : {}),
    toolsFile,
    brokerLaunch: async (id) => {
      const reply = await fetch(`${plan.brokerUrl}/v1/launches/${encodeURIComponent(id)}`, {
        headers: { authorization: `Bearer ${BROKER_TOKEN}` },
        signal: AbortSignal.timeout(5000)
      })
      if (reply.status !== 200) throw new Error(`GET /v1/launches/${id}: ${reply.status} ${await reply.text()}`)
      return await reply.json() as BrokerLaunchRecord
    },
    restart: async (service) => {
      if (service === 'platform') {
        await stack.platform.stop()
        stack.platform = await start('platform', platformEnv, plan.platformUrl)
        return stack.platform
      }
      if (toolAuthEnv === undefined) throw new Error('this stack has no tool-auth')
      await stack.toolAuth?.stop()
      stack.toolAuth = await start('tool-auth', toolAuthEnv, plan.toolAuthUrl)
      return stack.toolAuth
    },
    stop
  }
  return stack
}

/**
 * The hub config for our stack: GenericOAuthenticator with the settings of
 * services/tool-auth/README.md only (pointing at this stack's tool-auth), and
 * the RecordingSpawner allowing the dev images as DockerSpawner would.
 */
export function genericOAuthHubConfig (plan: StackPlan): string {
  return `
c.JupyterHub.authenticator_class = 'generic-oauth'
c.GenericOAuthenticator.client_id = ${JSON.stringify(HUB_CLIENT_ID)}
c.GenericOAuthenticator.client_secret = ${JSON.stringify(HUB_CLIENT_SECRET)}
c.GenericOAuthenticator.oauth_callback_url = ${JSON.stringify(`${plan.hubUrl}/hub/oauth_callback`)}
c.GenericOAuthenticator.authorize_url = ${JSON.stringify(`${plan.toolAuthUrl}/oauth2/authorize`)}
c.GenericOAuthenticator.token_url = ${JSON.stringify(`${plan.toolAuthUrl}/oauth2/token`)}
c.GenericOAuthenticator.userdata_url = ${JSON.stringify(`${plan.toolAuthUrl}/oauth2/userinfo`)}
c.GenericOAuthenticator.username_claim = 'name'
c.GenericOAuthenticator.scope = ['openid']
c.GenericOAuthenticator.login_service = 'your course'
c.Authenticator.auto_login = True
c.Authenticator.enable_auth_state = True
c.Authenticator.refresh_pre_spawn = True
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = 'oauth_user.groups'
c.GenericOAuthenticator.admin_groups = {'admin'}
c.GenericOAuthenticator.allow_all = True
c.GenericOAuthenticator.enable_pkce = True

c.JupyterHub.spawner_class = 'recording_spawner.RecordingSpawner'
c.RecordingSpawner.allowed_images = ${JSON.stringify(Object.values(IMAGES))}
c.Spawner.default_url = '/lab'
c.JupyterHub.named_server_limit_per_user = 5
`
}

/** A key for the hub's auth_state encryption. */
export function cryptKey (): string {
  return randomBytes(32).toString('hex')
}

/** Signs a demo user in to the platform (its CSRF-protected form) and returns the launch page. */
export async function signIn (client: BrowserClient, platformUrl: string, user: DemoUser): Promise<Page> {
  const login = await client.get(`${platformUrl}/login`)
  if (login.status !== 200) throw new Error(`GET /login: ${login.status}`)
  const home = await client.submitForm(login, { fields: { username: user, password: USERS[user].password } })
  if (home.status !== 200 || !home.url.startsWith(`${platformUrl}/`) || home.forms().length === 0) {
    throw new Error(`signing in as ${user} did not reach the launch page: ${home.status} ${home.url}\n${home.body.slice(0, 500)}`)
  }
  return home
}

/** The launch form's fields as the launch page gives them (csrf included), with choices overriding. */
export function launchFormFields (home: Page, choices: { client_id?: string, course: string, image?: string }): Array<[string, string]> {
  const form = home.forms().find((f) => f.action.endsWith('/launch'))
  if (form === undefined) throw new Error(`no launch form on ${home.url}`)
  const csrf = form.entries.find(([name]) => name === 'csrf')?.[1]
  if (csrf === undefined) throw new Error('the launch form has no csrf field')
  const clientId = choices.client_id ?? form.entries.find(([name]) => name === 'client_id')?.[1] ?? CLIENT_ID
  return [['csrf', csrf], ['client_id', clientId], ['course', choices.course], ...(choices.image === undefined ? [] : [['image', choices.image] as [string, string]])]
}

/** The error code a page of ours shows (the kit's error page), if any. */
export function shownErrorCode (body: string): string | undefined {
  return /Error code: ((?:PLATFORM|TOOL_AUTH|BROKER)_[A-Z_]+)/.exec(body)?.[1]
}
