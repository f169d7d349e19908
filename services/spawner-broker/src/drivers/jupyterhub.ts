import { setTimeout as sleep } from 'node:timers/promises'
import { inSpan } from '@ltilaunch/service-kit'
import type { BrokerConfig } from '../config.js'
import type { StoredLaunch } from '../launches/records.js'
import { SpawnFailed, type SpawnContext, type SpawnDriver, type SpawnResult } from './driver.js'
import { HubClient, HubError } from './hub-client.js'
import { courseGroupName, hubUrlSegment, variantServerName } from '@ltilaunch/claims'
import { UserOptionsForm } from './user-options.js'

/** The parts of the hub's user model the broker reads. */
interface HubServer {
  name?: string
  ready?: boolean
  pending?: string | null
  url?: string
  user_options?: Record<string, unknown> | null
}

interface HubUser {
  name: string
  admin?: boolean
  groups?: string[]
  servers?: Record<string, HubServer>
}

// Bounds on loops that wait for the hub to change state.
const MAX_SETTLE_ROUNDS = 4
const POLL_MS = 500

/** Told each time the driver sets or removes a hub user's admin flag (`set`), or the hub refused to. */
export type AdminFlagListener = (launch: StoredLaunch, set: boolean) => void

/**
 * Spawns through the JupyterHub REST API: makes sure the user exists (and
 * its admin flag and groups follow the role where configured), then starts
 * the launch's server with user_options carrying the image, follows the
 * progress stream to ready or failed, and handles a server that already
 * runs (same image: used as it is; another image: restarted, or another
 * named server, as ON_IMAGE_CHANGE says).
 */
export class JupyterHubDriver implements SpawnDriver {
  readonly name = 'jupyterhub'
  readonly #hub: HubClient
  readonly #config: BrokerConfig
  readonly #form: UserOptionsForm
  readonly #publicUrl: URL
  readonly #onWarning: ((message: string) => void) | undefined
  readonly #onAdminFlag: AdminFlagListener | undefined

  constructor (config: BrokerConfig, options: Pick<ConstructorParameters<typeof HubClient>[0], 'onRetry' | 'onReply'> & { onWarning?: (message: string) => void, onAdminFlag?: AdminFlagListener } = {}) {
    this.#config = config
    this.#onWarning = options.onWarning
    this.#onAdminFlag = options.onAdminFlag
    this.#hub = new HubClient({
      url: config.HUB_URL as string,
      token: config.HUB_API_TOKEN as string,
      timeoutMs: config.HUB_REQUEST_TIMEOUT * 1000,
      retries: config.HUB_RETRIES,
      retryBaseMs: config.HUB_RETRY_BASE_MS,
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onReply ? { onReply: options.onReply } : {})
    })
    this.#form = new UserOptionsForm(config)
    this.#publicUrl = new URL(config.HUB_PUBLIC_URL ?? config.HUB_URL as string)
  }

  async spawn (launch: StoredLaunch, context: SpawnContext): Promise<SpawnResult> {
    try {
      return await this.#spawn(launch, context)
    } catch (err) {
      if (err instanceof HubError) throw new SpawnFailed(err.message, err.status)
      throw err
    }
  }

  async #spawn (launch: StoredLaunch, context: SpawnContext): Promise<SpawnResult> {
    const { signal } = context
    const name = launch.username
    // Each step is a span of the launch's trace (a no-op without tracing); the hub's answers are the fetch spans inside.
    let user = await inSpan('hub.ensure_user', {}, async () => await this.#ensureUser(name, context))
    await inSpan('hub.sync_role', {}, async () => { await this.#syncRole(user, launch, context) })

    const image = launch.image
    let serverName = launch.serverName
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const server = user.servers?.[serverName]
      if (server && (server.ready || server.pending)) {
        if (server.pending === 'stop') {
          await context.progress('Your server is stopping; waiting for it to stop before starting it again')
          user = await this.#waitStopped(name, serverName, signal)
          continue
        }
        const current = this.#form.imageOf(server.user_options)
        if (current === undefined || current === image) {
          if (server.ready) {
            await context.progress(current === undefined
              ? 'Your server is already running (the hub does not say its image); using it'
              : `Your server is already running with ${image}; using it`, 100)
            return this.#result(name, serverName, server.url)
          }
          await context.progress('Your server is already starting; following it')
          return this.#result(name, serverName, await this.#followInSpan(name, serverName, context))
        }
        if (this.#config.ON_IMAGE_CHANGE === 'new-server' && this.#config.HUB_NAMED_SERVERS) {
          const variant = variantServerName(launch.serverName, image)
          if (variant !== serverName) {
            await context.progress(`Your server runs ${current}; starting another server (${variant}) with ${image}`)
            serverName = variant
            continue
          }
        }
        await context.progress(`Your server runs ${current}; stopping it to start ${image}`)
        await this.#hub.request('DELETE', this.#serverPath(name, serverName), { accept: [204, 202], signal })
        user = await this.#waitStopped(name, serverName, signal)
        continue
      }

      await context.progress(`Asking the hub to start ${serverName ? `server ${serverName}` : 'your server'} with ${image}`, 5)
      const started = await inSpan('hub.start_server', { attributes: { 'container.image.name': image } }, async (span) => {
        const reply = await this.#hub.request('POST', this.#serverPath(name, serverName), {
          body: this.#form.build(image),
          accept: [201, 202, 400],
          signal
        })
        span.setAttribute('http.response.status_code', reply.status)
        return reply
      })
      if (started.status === 400) {
        // Someone started or is stopping it in the meantime: look again.
        const message = (started.data as { message?: string } | undefined)?.message ?? ''
        if (/already running|pending/i.test(message)) {
          user = await this.#getUser(name, signal) ?? user
          continue
        }
        throw new SpawnFailed(`The hub refused to start the server: ${message || 'bad request'}`, 400)
      }
      return this.#result(name, serverName, await this.#followInSpan(name, serverName, context))
    }
    throw new SpawnFailed('The server kept changing state on the hub; try again in a moment.')
  }

  async #followInSpan (name: string, serverName: string, context: SpawnContext): Promise<string | undefined> {
    return await inSpan('hub.follow_progress', {}, async () => await this.#follow(name, serverName, context))
  }

  async #getUser (name: string, signal: AbortSignal): Promise<HubUser | undefined> {
    const reply = await this.#hub.request<HubUser>('GET', `/users/${encodeURIComponent(name)}`, { accept: [404], signal })
    return reply.status === 404 ? undefined : reply.data
  }

  async #ensureUser (name: string, context: SpawnContext): Promise<HubUser> {
    const existing = await this.#getUser(name, context.signal)
    if (existing) return existing
    await context.progress(`Creating your hub account, ${name}`, 2)
    // 409: created by someone else in the meantime, which is fine.
    await this.#hub.request('POST', `/users/${encodeURIComponent(name)}`, { accept: [409], signal: context.signal })
    const created = await this.#getUser(name, context.signal)
    if (!created) throw new SpawnFailed(`The hub did not keep the user ${name}.`)
    return created
  }

  /**
   * The admin flag and the groups follow the launch's role, where config asks
   * for it. Best effort: a hub that refuses (JupyterHub lets only admins grant
   * or take the admin flag; groups need admin:groups) is noted in the
   * progress and the log, and the server is started all the same.
   */
  async #syncRole (user: HubUser, launch: StoredLaunch, context: SpawnContext): Promise<void> {
    const { signal } = context
    const name = encodeURIComponent(user.name)
    if (this.#config.HUB_SYNC_ADMIN && Boolean(user.admin) !== launch.request.isAdmin) {
      await context.progress(launch.request.isAdmin ? 'Making you a hub administrator' : 'Removing your hub administrator flag')
      let set = false
      await this.#bestEffort(context, 'the hub admin flag', async () => {
        await this.#hub.request('PATCH', `/users/${name}`, { body: { admin: launch.request.isAdmin }, signal })
        set = true
      })
      this.#onAdminFlag?.(launch, set)
    }
    if (!this.#config.HUB_SYNC_GROUPS) return
    const { want, drop } = this.groupsFor(launch)
    const have = new Set(user.groups ?? [])
    await this.#bestEffort(context, 'your hub groups', async () => {
      for (const group of want) {
        if (have.has(group)) continue
        await this.#hub.request('POST', `/groups/${encodeURIComponent(group)}`, { accept: [409], signal })
        await this.#hub.request('POST', `/groups/${encodeURIComponent(group)}/users`, { body: { users: [user.name] }, signal })
      }
      for (const group of drop) {
        if (!have.has(group)) continue
        await this.#hub.request('DELETE', `/groups/${encodeURIComponent(group)}/users`, { body: { users: [user.name] }, accept: [404], signal })
      }
    })
  }

  async #bestEffort (context: SpawnContext, what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work()
    } catch (err) {
      // Only a refusal is passed over; a hub that does not answer fails the launch as usual.
      if (!(err instanceof HubError) || err.status === undefined) throw err
      await context.progress(`Could not update ${what} (${err.message}); starting your server anyway`)
      this.#onWarning?.(`could not update ${what}: ${err.message}`)
    }
  }

  groupsFor (launch: StoredLaunch): { want: string[], drop: string[] } {
    const staff = this.#config.HUB_STAFF_GROUP
    const learner = this.#config.HUB_LEARNER_GROUP
    const want = [launch.role === 'staff' ? staff : learner]
    const drop = [launch.role === 'staff' ? learner : staff]
    if (this.#config.HUB_COURSE_GROUPS && launch.course) want.push(courseGroupName(launch.course, launch.request.namespace))
    return { want, drop }
  }

  async #waitStopped (name: string, serverName: string, signal: AbortSignal): Promise<HubUser> {
    for (;;) {
      const user = await this.#getUser(name, signal)
      if (!user) throw new SpawnFailed(`The hub user ${name} disappeared.`)
      const server = user.servers?.[serverName]
      if (!server || (!server.ready && !server.pending)) return user
      await sleep(POLL_MS, undefined, { signal })
    }
  }

  /**
   * Follows the progress stream until the server is ready (returns its URL
   * path) or failed (throws). A stream that breaks off is followed again,
   * after a look at the server, until the spawn timeout aborts.
   */
  async #follow (name: string, serverName: string, context: SpawnContext): Promise<string | undefined> {
    const { signal } = context
    let lastMessage = ''
    for (;;) {
      try {
        for await (const event of this.#hub.progress(`${this.#serverPath(name, serverName)}/progress`, signal)) {
          if (event.failed) throw new SpawnFailed(event.message ?? 'The hub says the spawn failed.')
          if (event.ready) return event.url
          if (event.message && event.message !== lastMessage) {
            lastMessage = event.message
            await context.progress(event.message, event.progress)
          }
        }
      } catch (err) {
        if (err instanceof SpawnFailed) throw err
        signal.throwIfAborted()
        // A 4xx (no such server, "not starting") or a broken stream: the server model says what happened.
      }
      const user = await this.#getUser(name, signal)
      const server = user?.servers?.[serverName]
      if (server?.ready) return server.url
      if (!server || !server.pending) {
        throw new SpawnFailed('The server stopped before it was ready; the hub logs say why.')
      }
      await sleep(POLL_MS, undefined, { signal })
    }
  }

  #serverPath (name: string, serverName: string): string {
    const user = `/users/${encodeURIComponent(name)}`
    return serverName === '' ? `${user}/server` : `${user}/servers/${encodeURIComponent(serverName)}`
  }

  #result (name: string, serverName: string, url: string | undefined): SpawnResult {
    const base = this.#publicUrl.pathname.replace(/\/+$/, '')
    const next = `${base}/hub/user/${hubUrlSegment(name)}/${serverName ? `${hubUrlSegment(serverName)}/` : ''}`
    const login = new URL(`${base}/hub/login`, this.#publicUrl)
    login.searchParams.set('next', next)
    const serverPath = url ?? `${base}/user/${hubUrlSegment(name)}/${serverName ? `${hubUrlSegment(serverName)}/` : ''}`
    return { serverName, serverUrl: new URL(serverPath, this.#publicUrl).href, redirectUrl: login.href }
  }
}
