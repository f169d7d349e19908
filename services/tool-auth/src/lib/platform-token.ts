import { createHash, randomUUID } from 'node:crypto'
import type { Store } from '@ltilaunch/service-kit'
import { SignJWT, type CryptoKey } from 'jose'
import type { Platform } from '../config.js'
import { PlatformServicesOff, PlatformTokenRefused, PlatformUnavailable } from '../errors.js'

/** What a token is for: one registration (issuer, client id) and a set of scopes. */
export interface TokenRequest {
  platform: Platform
  clientId: string
  scopes: readonly string[]
}

export interface ToolSigner {
  privateKey: CryptoKey
  kid: string
  alg: 'RS256'
}

/** A reply of a platform service, read whole. */
export interface ServiceReply {
  status: number
  headers: Headers
  body: unknown
  text: string
}

export interface PlatformTokensOptions {
  store: Store
  signer: ToolSigner
  timeoutMs: number
}

interface CachedToken {
  accessToken: string
}

/** Seconds before its expiry that a cached token is no longer handed out. */
const EXPIRY_MARGIN = 30
/** Life of the client assertion (LTI Security Framework: short). */
const ASSERTION_LIFE = 300

/**
 * Access tokens for the platform's LTI Advantage services: the OAuth2
 * client-credentials grant with a JWT client assertion signed with the
 * tool's key (RFC 7523; LTI Security Framework 1.0 §4.1). Tokens are cached
 * in the store per (issuer, client id, scope set) until shortly before they
 * expire; a service that answers 401 is asked once more with a fresh token.
 */
export class PlatformTokens {
  readonly #options: PlatformTokensOptions

  constructor (options: PlatformTokensOptions) {
    this.#options = options
  }

  /** A token for these scopes, from the cache or the platform. */
  async token (request: TokenRequest): Promise<string> {
    const key = cacheKey(request)
    const cached = await this.#options.store.get<CachedToken>(key)
    if (cached !== undefined) return cached.accessToken
    return await this.#fetch(request, key)
  }

  /** Forgets the cached token of these scopes (the platform refused it). */
  async forget (request: TokenRequest): Promise<void> {
    await this.#options.store.delete(cacheKey(request))
  }

  /**
   * Calls a platform service with a bearer token; on 401 once more with a
   * fresh one. Network failures become TOOL_AUTH_PLATFORM_UNAVAILABLE.
   */
  async call (request: TokenRequest, url: string, init: { method: string, accept: string, contentType?: string, body?: unknown }): Promise<ServiceReply> {
    let reply = await this.#send(url, init, await this.token(request))
    if (reply.status === 401) {
      await this.forget(request)
      reply = await this.#send(url, init, await this.token(request))
    }
    return reply
  }

  /** The signed client assertion for a platform (exported for tests of its shape). */
  async assertion (platform: Platform, clientId: string): Promise<string> {
    const { signer } = this.#options
    const now = Math.floor(Date.now() / 1000)
    return await new SignJWT({})
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(platform.tokenAudience ?? tokenUrl(platform))
      .setIssuedAt(now)
      .setExpirationTime(now + ASSERTION_LIFE)
      .setJti(randomUUID())
      .sign(signer.privateKey)
  }

  async #fetch (request: TokenRequest, key: string): Promise<string> {
    const { platform, clientId } = request
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await this.assertion(platform, clientId),
      scope: [...request.scopes].sort().join(' ')
    })
    let response: Response
    let text: string
    try {
      response = await fetch(tokenUrl(platform), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: AbortSignal.timeout(this.#options.timeoutMs)
      })
      text = await response.text()
    } catch (err) {
      throw new PlatformUnavailable(`its token endpoint: ${describeFetchError(err)}`)
    }
    const body = parseJson(text)
    if (response.status >= 500 || response.status === 429) throw new PlatformUnavailable(`its token endpoint answered ${response.status}`)
    if (response.status !== 200 || typeof body?.access_token !== 'string' || body.access_token === '') {
      throw new PlatformTokenRefused(platform.issuer, platformError(response.status, body, text))
    }
    const expiresIn = Number(body.expires_in ?? 3600)
    const life = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600
    const ttl = life > 2 * EXPIRY_MARGIN ? life - EXPIRY_MARGIN : Math.floor(life / 2)
    if (ttl >= 1) await this.#options.store.set(key, { accessToken: body.access_token } satisfies CachedToken, ttl)
    return body.access_token
  }

  async #send (url: string, init: { method: string, accept: string, contentType?: string, body?: unknown }, token: string): Promise<ServiceReply> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: init.accept }
    if (init.contentType !== undefined) headers['content-type'] = init.contentType
    try {
      const response = await fetch(url, {
        method: init.method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs)
      })
      const text = await response.text()
      return { status: response.status, headers: response.headers, body: parseAnyJson(text), text }
    } catch (err) {
      throw new PlatformUnavailable(describeFetchError(err))
    }
  }
}

function tokenUrl (platform: Platform): string {
  if (platform.tokenUrl === undefined) throw new PlatformServicesOff(platform.issuer)
  return platform.tokenUrl
}

function cacheKey (request: TokenRequest): string {
  const scopes = [...new Set(request.scopes)].sort().join(' ')
  return `ptoken:${createHash('sha256').update(`${request.platform.issuer}\n${request.clientId}\n${scopes}`).digest('base64url')}`
}

function parseAnyJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function parseJson (text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** The platform's own words: OAuth's error and error_description, else the status and a short text. */
export function platformError (status: number, body: Record<string, unknown> | undefined, text: string): string {
  const error = typeof body?.error === 'string' ? body.error : undefined
  const description = typeof body?.error_description === 'string' ? body.error_description : undefined
  if (error !== undefined) return `${error}${description !== undefined ? ` (${description.slice(0, 500)})` : ''}`
  const message = typeof body?.message === 'string' ? body.message : typeof body?.reason === 'string' ? body.reason : undefined
  if (message !== undefined) return `HTTP ${status}: ${message.slice(0, 500)}`
  const short = text.replace(/\s+/g, ' ').trim().slice(0, 200)
  return short === '' ? `HTTP ${status}` : `HTTP ${status}: ${short}`
}

function describeFetchError (err: unknown): string {
  const error = err as Error & { cause?: { code?: string, message?: string } }
  if (error.name === 'TimeoutError') return 'no reply in time'
  return error.cause?.code ?? error.cause?.message ?? error.message
}
