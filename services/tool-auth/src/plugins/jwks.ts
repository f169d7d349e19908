import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput, type CryptoKey } from 'jose'
import fp from 'fastify-plugin'
import { JwksUnavailable } from '../errors.js'

export interface KeySetOptions {
  /** Refetch a set this old on the next use (seconds); a failed refetch keeps the old keys. */
  maxAge: number
  /** After a fetch, an unknown kid does not cause another for this long (seconds). */
  cooldown: number
  /** How long one fetch may take (ms). */
  timeout: number
}

export const DEFAULT_KEY_SET_OPTIONS: KeySetOptions = { maxAge: 600, cooldown: 30, timeout: 5000 }

type GetKey = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>

interface Log {
  warn: (object: object, message: string) => void
}

/**
 * One platform's public keys, shared by every request of this process (they
 * are public data, so a per-replica cache is fine).
 *
 * - fetched on first use, then kept;
 * - a token with an unknown kid refetches once, unless a fetch happened less
 *   than `cooldown` ago (so junk kids cannot make us hammer the platform);
 * - a set older than `maxAge` is refetched, but if that fails the cached
 *   keys stay in use: a platform's JWKS hiccup does not stop launches signed
 *   with keys we already hold;
 * - concurrent requests share one fetch.
 *
 * Why not jose's createRemoteJWKSet: (jose 6.2) once `cacheMaxAge` has
 * passed it refetches before every verification and throws if that fetch
 * fails, even when the cached set holds the token's key; and its cool-down
 * counts from the last *successful* fetch, so while the platform is down
 * every unknown kid fetches again. Both break the rules above.
 */
export class PlatformKeySet {
  #local: ReturnType<typeof createLocalJWKSet> | undefined
  #fetchedAt = 0
  #lastAttempt = 0
  #inflight: Promise<void> | undefined
  /** How many fetches were made (for tests and logs). */
  fetches = 0

  constructor (readonly url: string, readonly options: KeySetOptions, readonly log?: Log, readonly onFetch?: (ok: boolean) => void) {}

  readonly getKey: GetKey = async (header, token) => {
    const now = Date.now()
    if (this.#local === undefined) {
      await this.#refresh(true)
    } else if (now - this.#fetchedAt > this.options.maxAge * 1000 && now - this.#lastAttempt > this.options.cooldown * 1000) {
      await this.#refresh(false)
    }
    const local = this.#local as ReturnType<typeof createLocalJWKSet>
    try {
      return await local(header, token)
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err
      if (Date.now() - this.#lastAttempt < this.options.cooldown * 1000) throw err
      await this.#refresh(true)
      return await (this.#local as ReturnType<typeof createLocalJWKSet>)(header, token)
    }
  }

  /** Fetches the set; `required` means there is nothing to fall back on, so a failure is thrown. */
  async #refresh (required: boolean): Promise<void> {
    this.#inflight ??= this.#fetch().then(() => this.onFetch?.(true), (err: unknown) => {
      this.onFetch?.(false)
      throw err
    }).finally(() => { this.#inflight = undefined })
    try {
      await this.#inflight
    } catch (err) {
      if (required || this.#local === undefined) throw new JwksUnavailable((err as Error).message)
      this.log?.warn({ url: this.url, reason: (err as Error).message }, 'platform JWKS refetch failed; keeping the cached keys')
    }
  }

  async #fetch (): Promise<void> {
    this.#lastAttempt = Date.now()
    this.fetches++
    let response: Response
    try {
      response = await fetch(this.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.options.timeout) })
    } catch (err) {
      throw new Error(`${this.url} did not answer: ${(err as Error).message}`)
    }
    if (!response.ok) throw new Error(`${this.url} answered HTTP ${response.status}`)
    let body: unknown
    try {
      body = await response.json()
    } catch {
      throw new Error(`${this.url} did not return JSON`)
    }
    if (typeof body !== 'object' || body === null || !Array.isArray((body as JSONWebKeySet).keys)) {
      throw new Error(`${this.url} did not return a JWKS (an object with "keys")`)
    }
    this.#local = createLocalJWKSet(body as JSONWebKeySet)
    this.#fetchedAt = Date.now()
  }
}

export interface Jwks {
  /**
   * The key lookup for an issuer's tokens, cached across requests. A
   * platform registered by URL gets its set on first use (by issuer and
   * JWKS URL, so a re-registration with another URL starts afresh).
   */
  keySet: (issuer: string, jwksEndpoint?: string) => PlatformKeySet
}

declare module 'fastify' {
  interface FastifyInstance {
    jwks: Jwks
  }
}

export default fp(async function jwksPlugin (fastify) {
  const settings = { ...DEFAULT_KEY_SET_OPTIONS, maxAge: fastify.config.JWKS_MAX_AGE, cooldown: fastify.config.JWKS_COOLDOWN }
  // Issuers here are vouched for (configured, or registered by the operator): a bounded label.
  const counted = (issuer: string) => (ok: boolean) => fastify.toolMetrics.jwksFetched(issuer, ok)
  const sets = new Map(fastify.platforms.all.map((platform) =>
    [platform.issuer, new PlatformKeySet(platform.jwksEndpoint, settings, fastify.log, counted(platform.issuer))]))
  fastify.decorate('jwks', {
    keySet (issuer: string, jwksEndpoint?: string): PlatformKeySet {
      const set = sets.get(issuer)
      if (set !== undefined && (jwksEndpoint === undefined || set.url === jwksEndpoint)) return set
      if (jwksEndpoint === undefined) throw new Error(`no key set for ${issuer}`)
      const registered = new PlatformKeySet(jwksEndpoint, settings, fastify.log, counted(issuer))
      sets.set(issuer, registered)
      return registered
    }
  })
}, { name: 'tool-auth-jwks', dependencies: ['tool-auth-platforms', 'tool-auth-metrics'] })
