import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * A fake JupyterHub for the tests: the REST routes the broker uses (users,
 * groups, default and named servers with user_options, the spawn progress
 * event stream) and failure modes a test switches on: slow spawns, failed
 * spawns, 5xx answers, and the hub being down (its port closed).
 */

export interface FakeServer {
  name: string
  ready: boolean
  pending: 'spawn' | 'stop' | null
  userOptions: Record<string, unknown>
  startedAt: number
  /** Resolves when the spawn ends: with undefined when ready, with the failure message otherwise. */
  settled: Promise<string | undefined>
}

export interface FakeUser {
  name: string
  admin: boolean
  groups: Set<string>
  servers: Map<string, FakeServer>
}

export interface FakeHubOptions {
  token: string
  /** How long a spawn takes; 0 starts servers at once (201). */
  spawnMs: number
  /** When set, every spawn fails with this message once its time is up. */
  failSpawn: string | undefined
  /** How long a stop takes; 0 stops at once (204). */
  stopMs: number
  allowNamedServers: boolean
  /** Whether the broker's token is a hub admin: only admins may grant or take the admin flag. */
  brokerIsAdmin: boolean
}

export interface FakeCall {
  method: string
  path: string
  body: unknown
  status?: number
}

export class FakeHub {
  readonly users = new Map<string, FakeUser>()
  readonly groups = new Map<string, Set<string>>()
  readonly calls: FakeCall[] = []
  /** Every server start that the hub accepted: who, which server, with what. */
  readonly starts: Array<{ user: string, server: string, options: Record<string, unknown> }> = []
  readonly stops: Array<{ user: string, server: string }> = []
  /** The last spawn failure per user/server, as the progress stream reports it. */
  readonly failures = new Map<string, string>()
  options: FakeHubOptions
  port = 0
  #app: FastifyInstance | undefined
  #failNext = 0
  #failStatus = 500
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #finishers = new Map<string, () => void>()

  constructor (options: Partial<FakeHubOptions> = {}) {
    this.options = { token: 'fake-hub-token-0123456789', spawnMs: 0, failSpawn: undefined, stopMs: 0, allowNamedServers: true, brokerIsAdmin: true, ...options }
  }

  get url (): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Listens on 127.0.0.1 (a free port the first time, the same port when it comes back up). */
  async start (): Promise<this> {
    const app = this.#build()
    await app.listen({ host: '127.0.0.1', port: this.port })
    const address = app.server.address()
    if (address && typeof address === 'object') this.port = address.port
    this.#app = app
    return this
  }

  /** The hub goes away: its port is closed and connections are refused. */
  async down (): Promise<void> {
    const app = this.#app
    this.#app = undefined
    if (app) {
      app.server.closeAllConnections()
      await app.close()
    }
  }

  async close (): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    await this.down()
  }

  /** The next `count` API requests answer with `status` (500 by default). */
  failNext (count: number, status = 500): void {
    this.#failNext = count
    this.#failStatus = status
  }

  addUser (name: string, fields: { admin?: boolean, groups?: string[] } = {}): FakeUser {
    const user: FakeUser = { name, admin: fields.admin ?? false, groups: new Set(fields.groups ?? []), servers: new Map() }
    this.users.set(name, user)
    for (const group of user.groups) this.#group(group).add(name)
    return user
  }

  /** A server that already runs, started with these user_options. */
  runServer (userName: string, serverName: string, userOptions: Record<string, unknown>): void {
    const user = this.users.get(userName) ?? this.addUser(userName)
    user.servers.set(serverName, {
      name: serverName, ready: true, pending: null, userOptions, startedAt: Date.now(), settled: Promise.resolve(undefined)
    })
  }

  /** Ends a pending spawn now (ready, or failed with failSpawn), whatever spawnMs said. */
  finishSpawn (userName: string, serverName: string): boolean {
    const finish = this.#finishers.get(`${userName}/${serverName}`)
    finish?.()
    return finish !== undefined
  }

  server (userName: string, serverName: string): FakeServer | undefined {
    return this.users.get(userName)?.servers.get(serverName)
  }

  callsTo (method: string, pattern: RegExp): FakeCall[] {
    return this.calls.filter((c) => c.method === method && pattern.test(c.path))
  }

  #group (name: string): Set<string> {
    let group = this.groups.get(name)
    if (!group) {
      group = new Set()
      this.groups.set(name, group)
    }
    return group
  }

  #later (ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      fn()
    }, ms)
    this.#timers.add(timer)
  }

  #serverModel (user: FakeUser, server: FakeServer): Record<string, unknown> {
    const path = server.name ? `/user/${user.name}/${server.name}/` : `/user/${user.name}/`
    return { name: server.name, ready: server.ready, pending: server.pending, url: path, user_options: server.userOptions }
  }

  #userModel (user: FakeUser): Record<string, unknown> {
    const servers: Record<string, unknown> = {}
    for (const server of user.servers.values()) {
      if (server.ready || server.pending) servers[server.name] = this.#serverModel(user, server)
    }
    return { kind: 'user', name: user.name, admin: user.admin, groups: [...user.groups].sort(), servers }
  }

  #build (): FastifyInstance {
    const app = Fastify({ logger: false, forceCloseConnections: true })
    const error = (reply: FastifyReply, status: number, message: string) =>
      reply.code(status).send({ status, message })

    app.addHook('onRequest', async (request, reply) => {
      const call: FakeCall = { method: request.method, path: request.url, body: undefined }
      this.calls.push(call)
      ;(request as FastifyRequest & { call?: FakeCall }).call = call
      if (request.headers.authorization !== `token ${this.options.token}`) {
        return await error(reply, 403, 'Action is not authorized with current scopes')
      }
      if (this.#failNext > 0) {
        this.#failNext--
        return await error(reply, this.#failStatus, 'fake hub: injected failure')
      }
    })
    app.addHook('preHandler', async (request) => {
      const call = (request as FastifyRequest & { call?: FakeCall }).call
      if (call) call.body = request.body
    })
    app.addHook('onSend', async (request, reply) => {
      const call = (request as FastifyRequest & { call?: FakeCall }).call
      if (call) call.status = reply.statusCode
    })

    type P = { name: string, server?: string, group?: string }
    const findUser = (request: FastifyRequest) => this.users.get((request.params as P).name)
    const serverName = (request: FastifyRequest) => (request.params as P).server ?? ''

    app.get('/hub/api/users/:name', async (request, reply) => {
      const user = findUser(request)
      if (!user) return await error(reply, 404, 'No such user')
      return this.#userModel(user)
    })

    app.post('/hub/api/users/:name', async (request, reply) => {
      const name = (request.params as P).name
      if (this.users.has(name)) return await error(reply, 409, `User ${name} already exists`)
      this.addUser(name)
      return await reply.code(201).send(this.#userModel(this.users.get(name) as FakeUser))
    })

    app.patch('/hub/api/users/:name', async (request, reply) => {
      const user = findUser(request)
      if (!user) return await error(reply, 404, 'No such user')
      const body = request.body as { admin?: boolean }
      if (!this.options.brokerIsAdmin) {
        // As JupyterHub's PATCH /users/{name} does for a requester that is not an admin.
        if (user.admin) return await error(reply, 403, 'Only admins can modify other admins')
        if (body?.admin) return await error(reply, 403, 'Only admins can grant admin permissions')
      }
      if (typeof body?.admin === 'boolean') user.admin = body.admin
      return this.#userModel(user)
    })

    // Several users at once, as JupyterHub's POST /users: those it has are skipped; 409 when it has them all.
    app.post('/hub/api/users', async (request, reply) => {
      const names = (request.body as { usernames?: string[] } | undefined)?.usernames ?? []
      const fresh = [...new Set(names)].filter((name) => !this.users.has(name))
      if (fresh.length === 0) return await error(reply, 409, `All ${names.length} users already exist`)
      return await reply.code(201).send(fresh.map((name) => this.#userModel(this.addUser(name))))
    })

    app.get('/hub/api/groups/:group', async (request, reply) => {
      const name = (request.params as P).group as string
      const group = this.groups.get(name)
      if (!group) return await error(reply, 404, `No such group: ${name}`)
      return { kind: 'group', name, users: [...group].sort() }
    })

    app.post('/hub/api/groups/:group', async (request, reply) => {
      const name = (request.params as P).group as string
      if (this.groups.has(name)) return await error(reply, 409, `Group ${name} already exists`)
      this.#group(name)
      return await reply.code(201).send({ kind: 'group', name, users: [] })
    })

    app.post('/hub/api/groups/:group/users', async (request, reply) => {
      const name = (request.params as P).group as string
      const group = this.groups.get(name)
      if (!group) return await error(reply, 404, `No such group: ${name}`)
      const unknown = (request.body as { users: string[] }).users.find((userName) => !this.users.has(userName))
      if (unknown !== undefined) return await error(reply, 400, `No such user: ${unknown}`)
      for (const userName of (request.body as { users: string[] }).users) {
        group.add(userName)
        this.users.get(userName)?.groups.add(name)
      }
      return { kind: 'group', name, users: [...group] }
    })

    app.delete('/hub/api/groups/:group/users', async (request, reply) => {
      const name = (request.params as P).group as string
      const group = this.groups.get(name)
      if (!group) return await error(reply, 404, `No such group: ${name}`)
      for (const userName of (request.body as { users: string[] }).users) {
        group.delete(userName)
        this.users.get(userName)?.groups.delete(name)
      }
      return { kind: 'group', name, users: [...group] }
    })

    const startServer = async (request: FastifyRequest, reply: FastifyReply) => {
      const user = findUser(request)
      if (!user) return await error(reply, 404, 'No such user')
      const name = serverName(request)
      if (name && !this.options.allowNamedServers) return await error(reply, 400, 'Named servers are not enabled.')
      const existing = user.servers.get(name)
      if (existing?.pending === 'spawn') return await reply.code(202).type('text/plain').send('')
      if (existing?.pending) return await error(reply, 400, `${user.name}:${name} is pending ${existing.pending}`)
      if (existing?.ready) return await error(reply, 400, `${user.name}:${name} is already running`)
      const options = (request.body ?? {}) as Record<string, unknown>
      this.starts.push({ user: user.name, server: name, options })
      this.failures.delete(`${user.name}/${name}`)
      let settle: (failure: string | undefined) => void = () => {}
      const server: FakeServer = {
        name,
        ready: false,
        pending: 'spawn',
        userOptions: options,
        startedAt: Date.now(),
        settled: new Promise((resolve) => { settle = resolve })
      }
      user.servers.set(name, server)
      const key = `${user.name}/${name}`
      const finish = () => {
        if (this.#finishers.get(key) !== finish) return
        this.#finishers.delete(key)
        server.pending = null
        const failure = this.options.failSpawn
        if (failure) {
          this.failures.set(`${user.name}/${name}`, failure)
          user.servers.delete(name)
        } else {
          server.ready = true
        }
        settle(failure)
      }
      this.#finishers.set(key, finish)
      if (this.options.spawnMs === 0 && !this.options.failSpawn) {
        finish()
        return await reply.code(201).type('text/plain').send('')
      }
      this.#later(this.options.spawnMs, finish)
      return await reply.code(202).type('text/plain').send('')
    }

    const stopServer = async (request: FastifyRequest, reply: FastifyReply) => {
      const user = findUser(request)
      if (!user) return await error(reply, 404, 'No such user')
      const name = serverName(request)
      const server = user.servers.get(name)
      if (!server || (!server.ready && !server.pending)) {
        if (name) return await error(reply, 404, `${user.name} has no server named '${name}'`)
        return await reply.code(204).send()
      }
      this.stops.push({ user: user.name, server: name })
      if (this.options.stopMs === 0) {
        user.servers.delete(name)
        return await reply.code(204).send()
      }
      server.ready = false
      server.pending = 'stop'
      this.#later(this.options.stopMs, () => { user.servers.delete(name) })
      return await reply.code(202).type('text/plain').send('')
    }

    const progress = async (request: FastifyRequest, reply: FastifyReply) => {
      const user = findUser(request)
      if (!user) return await error(reply, 404, 'No such user')
      const name = serverName(request)
      const server = user.servers.get(name)
      const failure = this.failures.get(`${user.name}/${name}`)
      if (!server && failure === undefined) return await error(reply, 404, 'No such server')
      reply.hijack()
      const out = reply.raw
      out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      const send = (event: Record<string, unknown>) => out.write(`data: ${JSON.stringify(event)}\n\n`)
      const ready = () => {
        const url = name ? `/user/${user.name}/${name}/` : `/user/${user.name}/`
        send({ progress: 100, ready: true, message: `Server ready at ${url}`, url })
      }
      if (!server) {
        send({ progress: 100, failed: true, message: `Spawn failed: ${failure as string}` })
        return out.end()
      }
      if (server.ready) {
        ready()
        return out.end()
      }
      if (server.pending !== 'spawn') {
        out.end()
        return
      }
      let step = 0
      const tick = setInterval(() => {
        step++
        send({ progress: Math.min(90, step * 10), message: `Pulling image, step ${step}` })
      }, Math.max(20, Math.floor(this.options.spawnMs / 5)))
      request.raw.on('close', () => clearInterval(tick))
      const result = await server.settled
      clearInterval(tick)
      if (out.destroyed) return
      if (result === undefined) ready()
      else send({ progress: 100, failed: true, message: `Spawn failed: ${result}` })
      out.end()
    }

    app.post('/hub/api/users/:name/server', startServer)
    app.post('/hub/api/users/:name/servers/:server', startServer)
    app.delete('/hub/api/users/:name/server', stopServer)
    app.delete('/hub/api/users/:name/servers/:server', stopServer)
    app.get('/hub/api/users/:name/server/progress', progress)
    app.get('/hub/api/users/:name/servers/:server/progress', progress)
    return app
  }
}

/** A fake hub on a free loopback port, closed after the test. */
export async function fakeHubForTest (t: { teardown: (fn: () => unknown) => void }, options: Partial<FakeHubOptions> = {}): Promise<FakeHub> {
  const hub = await new FakeHub(options).start()
  t.teardown(async () => await hub.close())
  return hub
}
