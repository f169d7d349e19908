/**
 * A real JupyterHub for the end-to-end tests, from the pinned virtualenv,
 * with configurable-http-proxy from npm, all on 127.0.0.1 and free ports.
 * Its config is a small base (networking, a fresh sqlite database and
 * cookie secret in a directory of its own, a service token with the scopes
 * the broker needs, named servers) followed by the caller's Python.
 *
 * HubApi is a thin client of the hub's REST API for the tests: users,
 * groups, named servers with user_options, and the progress event stream.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ensureVenv, nodeBinDir, outputDir, testDir, venvBin, venvDir } from '../setup/peers.js'
import { freePort, startProcess, type ManagedProcess, type Teardown } from './processes.js'

/** What the spawner-broker needs of a hub (and the tests, to look at it). */
export const BROKER_SCOPES = [
  'admin:users', // create users, set admin; includes read:users, list:users, admin:auth_state
  'admin:groups', // create groups, add and remove members
  'admin:servers', // start and stop (named) servers, read their state
  'access:servers', // reach the servers through the proxy
  'read:hub'
]

/** The directory of test/peers, for PYTHONPATH (recording_spawner.py). */
export const peersPythonDir = path.join(testDir, 'peers')

export interface HubOptions {
  /** Process name and log file name. */
  name: string
  /** Python appended to the base config: authenticator, spawner, ... */
  config: string
  /** The public (proxy) port; a free one when not given. */
  port?: number
  /** Name of the service whose token is returned. */
  serviceName?: string
  serviceScopes?: string[]
  /** Extra environment for the hub (and, through env_keep, its servers). */
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  logLevel?: 'DEBUG' | 'INFO' | 'WARN'
}

export interface Hub {
  /** Public URL (through the proxy), no trailing slash. */
  url: string
  /** The hub process itself (hub_port), bypassing the proxy. */
  hubUrl: string
  /** REST API base: `${url}/hub/api`. */
  apiUrl: string
  /** The service token (BROKER_SCOPES unless told otherwise). */
  apiToken: string
  serviceName: string
  /** The hub's directory: config, sqlite db, cookie secret, spawner records, homes. */
  workDir: string
  /** Where RecordingSpawner writes its records, if the config uses it. */
  recordDir: string
  proc: ManagedProcess
  api: HubApi
  stop: () => Promise<void>
}

function py (value: string): string {
  return JSON.stringify(value)
}

/** The base config; the caller's config follows it and may override any of it. */
export function baseConfig (options: {
  port: number
  hubPort: number
  proxyApiPort: number
  workDir: string
  recordDir: string
  serviceName: string
  serviceToken: string
  scopes: string[]
  logLevel: string
}): string {
  const { workDir } = options
  // CI runs as root, and jupyter_server refuses root unless told.
  const rootArgs = process.getuid?.() === 0 ? "c.Spawner.args = ['--ServerApp.allow_root=True']\n" : ''
  return `# Written by test/harness/jupyterhub.ts for one test run.
c = get_config()  # noqa

c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = ${options.port}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${options.hubPort}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${options.proxyApiPort}'
c.ConfigurableHTTPProxy.command = [${py(path.join(nodeBinDir(), 'configurable-http-proxy'))}]
c.ConfigurableHTTPProxy.pid_file = ${py(path.join(workDir, 'proxy.pid'))}
c.JupyterHub.pid_file = ${py(path.join(workDir, 'jupyterhub.pid'))}
c.JupyterHub.db_url = ${py(`sqlite:///${path.join(workDir, 'jupyterhub.sqlite')}`)}
c.JupyterHub.cookie_secret_file = ${py(path.join(workDir, 'cookie_secret'))}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.log_level = ${py(options.logLevel)}
c.JupyterHub.allow_named_servers = True

# The broker's service account: a token with the scopes it needs.
c.JupyterHub.services = [{'name': ${py(options.serviceName)}, 'api_token': ${py(options.serviceToken)}}]
c.JupyterHub.load_roles = [{
    'name': ${py(`${options.serviceName}-role`)},
    'scopes': ${JSON.stringify(options.scopes)},
    'services': [${py(options.serviceName)}],
}]

# Single-user servers: the virtualenv's jupyterhub-singleuser, homes here.
c.Spawner.cmd = [${py(venvBin('jupyterhub-singleuser'))}]
${rootArgs}c.Spawner.ip = '127.0.0.1'
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.env_keep = ['PATH', 'PYTHONPATH', 'VIRTUAL_ENV', 'LANG', 'LC_ALL', 'JUPYTERHUB_SINGLEUSER_APP']
c.SimpleLocalProcessSpawner.home_dir_template = ${py(path.join(workDir, 'home', '{username}'))}
c.RecordingSpawner.record_dir = ${py(options.recordDir)}
`
}

/** Keeps the newest `keep` directories of earlier hubs of this name, so that output/ does not grow without end. */
function pruneOldRuns (base: string, name: string, keep: number): void {
  const runs = readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith(`${name}-`) && /^[A-Za-z0-9]{6}$/.test(entry.name.slice(name.length + 1)))
    .map((entry) => ({ dir: path.join(base, entry.name), at: statSync(path.join(base, entry.name)).mtimeMs }))
    .sort((a, b) => b.at - a.at)
  for (const run of runs.slice(keep)) rmSync(run.dir, { recursive: true, force: true })
}

/**
 * Starts a JupyterHub with the caller's config and waits until its REST API
 * answers through the proxy. Stopped by t's teardown.
 */
export async function startJupyterHub (t: Teardown, options: HubOptions): Promise<Hub> {
  await ensureVenv()
  const port = options.port ?? await freePort()
  const hubPort = await freePort()
  const proxyApiPort = await freePort()
  const base = path.join(outputDir, 'hubs')
  mkdirSync(base, { recursive: true })
  pruneOldRuns(base, options.name, 5)
  const workDir = mkdtempSync(path.join(base, `${options.name}-`))
  const recordDir = path.join(workDir, 'spawner-records')
  mkdirSync(recordDir, { recursive: true })
  writeFileSync(path.join(workDir, 'cookie_secret'), randomBytes(32).toString('hex'), { mode: 0o600 })
  const serviceName = options.serviceName ?? 'ltilaunch-broker'
  const apiToken = randomBytes(24).toString('hex')
  const config = `${baseConfig({
    port,
    hubPort,
    proxyApiPort,
    workDir,
    recordDir,
    serviceName,
    serviceToken: apiToken,
    scopes: options.serviceScopes ?? BROKER_SCOPES,
    logLevel: options.logLevel ?? 'INFO'
  })}
# ---- the test's config ----
${options.config}
`
  const configFile = path.join(workDir, 'jupyterhub_config.py')
  writeFileSync(configFile, config)
  const venvBinDir = path.dirname(venvBin('python'))
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    PATH: [nodeBinDir(), venvBinDir, process.env.PATH ?? ''].join(':'),
    PYTHONPATH: [peersPythonDir, options.env?.PYTHONPATH ?? process.env.PYTHONPATH ?? ''].filter(Boolean).join(':'),
    VIRTUAL_ENV: venvDir(),
    PYTHONUNBUFFERED: '1'
  }
  // The proxy's token comes from the hub; a stray one in our environment would be used instead.
  delete env.CONFIGPROXY_AUTH_TOKEN
  delete env.JUPYTERHUB_API_TOKEN
  const url = `http://127.0.0.1:${port}`
  const proc = await startProcess(t, {
    name: options.name,
    cmd: venvBin('jupyterhub'),
    args: ['-f', configFile],
    cwd: workDir,
    env,
    readyUrl: {
      url: `${url}/hub/api/`,
      ok: (status, body) => status === 200 && body.includes('"version"')
    },
    timeoutMs: options.timeoutMs ?? 60_000,
    graceMs: 10_000
  })
  const apiUrl = `${url}/hub/api`
  return {
    url,
    hubUrl: `http://127.0.0.1:${hubPort}`,
    apiUrl,
    apiToken,
    serviceName,
    workDir,
    recordDir,
    proc,
    api: new HubApi(apiUrl, apiToken),
    stop: async () => { await proc.stop() }
  }
}

export class HubError extends Error {
  constructor (readonly status: number, readonly body: string, what: string) {
    super(`${what}: ${status} ${body.slice(0, 500)}`)
  }
}

export interface HubServer {
  name: string
  ready: boolean
  pending: string | null
  url: string
  progress_url: string
  user_options: Record<string, unknown>
  started?: string
  state?: unknown
}

export interface HubUser {
  name: string
  admin: boolean
  groups: string[]
  server: string | null
  pending: string | null
  servers?: Record<string, HubServer>
  auth_state?: Record<string, unknown> | null
}

export interface ProgressEvent {
  progress?: number
  message?: string
  ready?: boolean
  failed?: boolean
  url?: string
}

/** The JupyterHub REST API with a token. */
export class HubApi {
  constructor (readonly apiUrl: string, readonly token: string) {}

  async request (method: string, apiPath: string, body?: unknown, expect: number[] = [200, 201, 202, 204]): Promise<{ status: number, json: unknown, text: string }> {
    const reply = await fetch(`${this.apiUrl}${apiPath}`, {
      method,
      headers: {
        authorization: `token ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' })
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000)
    })
    const text = await reply.text()
    if (!expect.includes(reply.status)) throw new HubError(reply.status, text, `${method} ${apiPath}`)
    let json: unknown
    try {
      json = text === '' ? undefined : JSON.parse(text)
    } catch {}
    return { status: reply.status, json, text }
  }

  async info (): Promise<{ version: string }> {
    return (await this.request('GET', '/')).json as { version: string }
  }

  async createUser (name: string, options: { admin?: boolean } = {}): Promise<HubUser> {
    const { json } = await this.request('POST', `/users/${encodeURIComponent(name)}`, options.admin === undefined ? undefined : { admin: options.admin }, [201])
    return json as HubUser
  }

  /** The user with servers (and auth_state, with admin:auth_state); undefined when there is none. */
  async user (name: string): Promise<HubUser | undefined> {
    const { status, json } = await this.request('GET', `/users/${encodeURIComponent(name)}?include_stopped_servers=1`, undefined, [200, 404])
    return status === 404 ? undefined : json as HubUser
  }

  async users (): Promise<HubUser[]> {
    return (await this.request('GET', '/users')).json as HubUser[]
  }

  async groups (): Promise<Array<{ name: string, users: string[] }>> {
    return (await this.request('GET', '/groups')).json as Array<{ name: string, users: string[] }>
  }

  /** Starts a (named) server with user_options; 201 when it started at once, 202 while pending. */
  async startServer (user: string, server: string, userOptions: Record<string, unknown> = {}): Promise<number> {
    const where = server === '' ? `/users/${encodeURIComponent(user)}/server` : `/users/${encodeURIComponent(user)}/servers/${encodeURIComponent(server)}`
    return (await this.request('POST', where, userOptions, [201, 202])).status
  }

  async stopServer (user: string, server: string, options: { remove?: boolean } = {}): Promise<void> {
    const where = server === '' ? `/users/${encodeURIComponent(user)}/server` : `/users/${encodeURIComponent(user)}/servers/${encodeURIComponent(server)}`
    await this.request('DELETE', where, server !== '' && options.remove ? { remove: true } : undefined, [202, 204, 404])
  }

  /**
   * Follows /progress (an event stream) until the server is ready or has
   * failed; returns every event. A server not (yet) starting is waited for,
   * since a broker may not have asked for it yet. Throws on failure or
   * timeout, with the events seen.
   */
  async waitForServer (user: string, server: string, timeoutMs = 120_000): Promise<ProgressEvent[]> {
    const where = server === '' ? `/users/${encodeURIComponent(user)}/server/progress` : `/users/${encodeURIComponent(user)}/servers/${encodeURIComponent(server)}/progress`
    const events: ProgressEvent[] = []
    let lastError = ''
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const reply = await fetch(`${this.apiUrl}${where}`, {
        headers: { authorization: `token ${this.token}`, accept: 'text/event-stream' },
        signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now()))
      })
      if (reply.status === 400 || reply.status === 404) {
        lastError = `${reply.status} ${(await reply.text()).slice(0, 200)}`
        await sleep(250)
        continue
      }
      if (reply.status !== 200 || reply.body === null) {
        const text = await reply.text()
        throw new HubError(reply.status, text, `GET ${where}`)
      }
      const decoder = new TextDecoder()
      let buffer = ''
      for await (const chunk of reply.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n')
          if (data === '') continue
          const event = JSON.parse(data) as ProgressEvent
          events.push(event)
          if (event.ready) return events
          if (event.failed) throw new Error(`${user}/${server} failed to start: ${events.map((e) => e.message).join(' | ')}`)
        }
      }
      // The stream ended without ready (e.g. the spawn had not begun yet): look again.
      await sleep(250)
    }
    throw new Error(`${user}/${server} was not ready within ${timeoutMs} ms: ${events.map((e) => e.message).join(' | ') || lastError}`)
  }
}
