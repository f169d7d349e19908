/**
 * Binding a launch to the browser that began it (LTI Security Framework 5.1.1.2:
 * the state must be bound to the user agent). Two ways: the state cookie, or,
 * where the LMS frames the tool and the browser drops third-party cookies, the
 * platform's postMessage storage (1EdTech LTI Client Side postMessages and
 * Platform Storage: `lti_storage_target`, `lti.put_data`, `lti.get_data`).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { ToolAuthConfig } from '../config.js'
import { publicBase } from './urls.js'

/** How the login meant to bind its state; kept in the state record. */
export type StateBinding =
  | { kind: 'cookie' }
  | { kind: 'storage', target: string, platformOrigin: string, secret: string }

/** The key under which the state's secret is kept in the platform's storage. */
export const storageKey = (state: string): string => `ltilaunch_state_${state}`

/** A fresh secret for the platform's storage: not the state itself, so the two never travel together. */
export const bindingSecret = (): string => randomBytes(24).toString('base64url')

/**
 * A frame name the tool may post to: `_parent`, or a plain name in the
 * parent page (Canvas: `post_message_forwarding`). Anything else is ignored.
 */
export function storageTargetOf (value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  return /^(?:_parent|[A-Za-z0-9][\w.-]{0,63})$/.test(value) ? value : undefined
}

/**
 * Whether the browser says this navigation happens in a frame
 * (Fetch Metadata: Sec-Fetch-Dest; Chromium, Firefox and Safari 16.4+ send it).
 */
export function isFramed (request: FastifyRequest): boolean {
  const dest = request.headers['sec-fetch-dest']
  return dest === 'iframe' || dest === 'frame'
}

/**
 * Whether a POST was sent by a page of this tool itself: Sec-Fetch-Site
 * `same-origin`, or an Origin that is ours. A form that another site makes a
 * victim's browser submit carries that site's origin and `cross-site`, so the
 * value read from the platform's storage cannot be forged with it.
 */
export function postedByOurPage (request: FastifyRequest, config: ToolAuthConfig): boolean {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined) return site === 'same-origin'
  const origin = request.headers.origin
  return origin !== undefined && origin !== 'null' && origin === new URL(publicBase(request, config)).origin
}

/** Constant-time comparison of two secrets. */
export function secretsMatch (expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The origin postMessages to and from the platform must have: that of its authorize_url. */
export function platformOrigin (authorizeUrl: string): string {
  return new URL(authorizeUrl).origin
}

/** Login parameters worth repeating when the login restarts in a new window (strings only, no storage target). */
export function restartParams (params: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) {
    if (name === 'lti_storage_target' || typeof value !== 'string') continue
    out[name] = value
  }
  return out
}

/** The login URL that restarts this launch top-level (the new-window path). */
export function restartUrl (request: FastifyRequest, config: ToolAuthConfig, params: Record<string, string>): string {
  const url = new URL(`${publicBase(request, config)}/lti13/login`)
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url.toString()
}
