import { createHash } from 'node:crypto'
import type { Store } from '@ltilaunch/service-kit'
import { HubTokenInvalid, HubUnavailable } from '../errors.js'

/** Who a notebook's token belongs to, as the hub says. */
export interface HubIdentity {
  username: string
  /**
   * The one server the token belongs to ('' for the default server), from
   * its `access:servers!server=<user>/<server>` scope; undefined for a token
   * of no single server (a user's own API token).
   */
  serverName?: string
}

/**
 * Checks a token against the hub's REST API: GET {HUB_API_URL}/user with
 * it. JupyterHub (2.0 and later) answers with the owner's model and the
 * token's scopes; a server's own token (JUPYTERHUB_API_TOKEN) carries
 * `access:servers!server=<user>/<server name>`. The answer is cached for a
 * short time under the token's hash, never the token.
 */
export class HubIdentities {
  readonly #apiUrl: string
  readonly #store: Store
  readonly #cacheSeconds: number
  readonly #timeoutMs: number

  constructor (options: { apiUrl: string, store: Store, cacheSeconds: number, timeoutMs: number }) {
    this.#apiUrl = options.apiUrl.replace(/\/+$/, '')
    this.#store = options.store
    this.#cacheSeconds = options.cacheSeconds
    this.#timeoutMs = options.timeoutMs
  }

  async identify (token: string): Promise<HubIdentity> {
    const key = `hubtoken:${createHash('sha256').update(token).digest('base64url')}`
    if (this.#cacheSeconds > 0) {
      const cached = await this.#store.get<HubIdentity>(key)
      if (cached !== undefined) return cached
    }
    let response: Response
    let body: unknown
    try {
      response = await fetch(`${this.#apiUrl}/user`, {
        headers: { authorization: `token ${token}`, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs)
      })
      body = await response.json().catch(() => undefined)
    } catch (err) {
      throw new HubUnavailable((err as Error).name === 'TimeoutError' ? 'no reply in time' : 'unreachable')
    }
    if (response.status === 401 || response.status === 403 || response.status === 404) throw new HubTokenInvalid()
    if (response.status !== 200) throw new HubUnavailable(`the hub answered ${response.status}`)
    const identity = readIdentity(body)
    if (identity === undefined) throw new HubTokenInvalid()
    if (this.#cacheSeconds > 0) await this.#store.set(key, identity, this.#cacheSeconds)
    return identity
  }
}

/** The identity in the hub's answer: a user (not a service) and the single server its scopes name. */
export function readIdentity (body: unknown): HubIdentity | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const model = body as { kind?: unknown, name?: unknown, scopes?: unknown }
  if (model.kind !== undefined && model.kind !== 'user') return undefined
  if (typeof model.name !== 'string' || model.name === '') return undefined
  const username = model.name
  const scopes = Array.isArray(model.scopes) ? model.scopes.filter((s): s is string => typeof s === 'string') : []
  const prefix = `access:servers!server=${username}/`
  const servers = new Set(scopes.filter((scope) => scope.startsWith(prefix)).map((scope) => scope.slice(prefix.length)))
  // A token that reaches every server of its user (or others') is no one server's.
  const broad = scopes.some((scope) => scope === 'access:servers' || scope.startsWith('access:servers!user') || scope === 'inherit')
  const identity: HubIdentity = { username }
  if (servers.size === 1 && !broad) identity.serverName = [...servers][0] as string
  return identity
}
