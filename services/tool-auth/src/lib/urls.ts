import type { FastifyRequest } from 'fastify'
import type { ToolAuthConfig } from '../config.js'

/**
 * The scheme the browser used, by ltiauthenticator's `uri_scheme` rule:
 * `http`/`https` as configured; `auto` takes the first value of
 * X-Forwarded-Proto, X-Scheme or Forwarded's proto=, else the connection's.
 */
export function browserScheme (request: FastifyRequest, uriScheme: ToolAuthConfig['uri_scheme']): 'http' | 'https' {
  if (uriScheme !== 'auto') return uriScheme
  const first = (value: string | string[] | undefined): string | undefined => {
    const text = Array.isArray(value) ? value[0] : value
    return text?.split(',')[0]?.trim().toLowerCase() || undefined
  }
  const forwarded = first(request.headers['x-forwarded-proto']) ??
    first(request.headers['x-scheme']) ??
    first(request.headers.forwarded)?.match(/(?:^|;)\s*proto=("?)(https?)\1/i)?.[2]?.toLowerCase()
  if (forwarded === 'https' || forwarded === 'http') return forwarded
  return request.protocol === 'https' ? 'https' : 'http'
}

/** The base URL browsers reach this tool at: PUBLIC_URL, else derived from the request. */
export function publicBase (request: FastifyRequest, config: ToolAuthConfig): string {
  if (config.PUBLIC_URL !== undefined) return config.PUBLIC_URL.replace(/\/+$/, '')
  return `${browserScheme(request, config.uri_scheme)}://${request.host}`
}

/** Whether cookies must be Secure (and may then be SameSite=None). */
export function isHttps (request: FastifyRequest, config: ToolAuthConfig): boolean {
  if (config.PUBLIC_URL !== undefined) return config.PUBLIC_URL.startsWith('https:')
  return browserScheme(request, config.uri_scheme) === 'https'
}

/**
 * Whether browsers reach us at localhost, which they treat as a secure
 * context: they keep Secure cookies from http://localhost, so a development
 * stack there gets the same SameSite=None cookies as an https deployment.
 */
export function isLocalhost (request: FastifyRequest, config: ToolAuthConfig): boolean {
  const host = new URL(publicBase(request, config)).hostname.toLowerCase()
  return host === 'localhost' || host.endsWith('.localhost')
}

/**
 * Cookie attributes shared by the state and session cookies.
 *
 * `partitioned` (CHIPS) is for the state cookie: it lives only between the
 * login and the callback, which happen in the same frame, so a partitioned
 * cookie still reaches the callback when the browser blocks third-party
 * cookies in the LMS iframe. The session cookie is not partitioned: the hub's
 * sign-in may happen in a top-level window later.
 */
export function cookieOptions (request: FastifyRequest, config: ToolAuthConfig, maxAge: number, options: { partitioned?: boolean } = {}) {
  const https = isHttps(request, config)
  const secure = https || isLocalhost(request, config)
  // A launch inside an LMS iframe is a third-party context: only SameSite=None
  // cookies reach us there, and browsers refuse None without Secure.
  return {
    path: '/',
    httpOnly: true,
    secure,
    sameSite: secure ? 'none' as const : 'lax' as const,
    maxAge,
    // Partitioned only over https: on a development host the framed launch
    // then takes the paths every browser supports (platform storage, or the
    // new window), not Chromium's CHIPS alone.
    ...(https && options.partitioned === true ? { partitioned: true } : {})
  }
}

/**
 * Whether `target` is an http(s) URL on an allowed host. With no
 * ALLOWED_HOSTS and no PUBLIC_URL, the host the request came to is allowed.
 */
export function targetAllowed (target: string, request: FastifyRequest, config: ToolAuthConfig): boolean {
  let url: URL
  try {
    url = new URL(target)
  } catch {
    return false
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  if (url.username !== '' || url.password !== '') return false
  const allowed = config.allowedHosts.length > 0 ? config.allowedHosts : [request.host.toLowerCase()]
  return allowed.includes(url.host.toLowerCase())
}

/**
 * The `next` parameter of a target link URI, resolved against it (the page
 * to show after a launch that is not a notebook spawn), or undefined.
 * Backslashes become slashes first, as browsers read them: "/\\evil.com"
 * must not leave the host unnoticed.
 */
export function nextFromTarget (target: string): string | undefined {
  const url = new URL(target)
  const next = url.searchParams.get('next')
  if (next === null || next === '') return undefined
  try {
    return new URL(next.replaceAll('\\', '/'), url).toString()
  } catch {
    return next
  }
}
