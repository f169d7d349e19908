import { createHash } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Sets the security headers of a reply that runs no onSend hooks (router errors). */
    applySecurityHeaders: (reply: FastifyReply, payload: unknown) => void
  }
}

/**
 * Sent on every reply, including those written before Fastify sees a request.
 *
 * Referrer-Policy is same-origin, not no-referrer: our pages' URLs carry
 * one-time values (launch ids, tickets) that must never reach another site,
 * and same-origin keeps them home; but under no-referrer a browser sends
 * `Origin: null` on a form POST, which would defeat the same-origin checks
 * of our own forms (the broker's retry, the platform's sign-out).
 */
export const BASE_SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin'
} as const

export interface SecurityHeadersOptions {
  /**
   * Who may frame this service's HTML pages (the FRAME_ANCESTORS setting, or
   * the service's default): `self`, `none`, `*` or origins, comma or space
   * separated. Unset or `*`: anyone (tool-auth and the broker are framed by LMSs).
   */
  frameAncestors?: string | undefined
}

/** CSP sources for frame-ancestors from the setting; undefined when any site may frame. */
export function frameAncestorSources (value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const sources = value.split(/[\s,]+/).filter((part) => part !== '').map((part) => {
    const bare = part.replace(/^'(.*)'$/, '$1')
    return bare === 'self' || bare === 'none' ? `'${bare}'` : bare
  })
  if (sources.includes('*')) return undefined
  // 'none' with anything else means the operator listed origins by mistake; the origins win.
  return sources.length > 1 ? sources.filter((source) => source !== "'none'") : sources
}

const INLINE_SCRIPT = /<script\b(?![^>]*\ssrc\s*=)[^>]*>([\s\S]*?)<\/script\s*>/gi
const INLINE_STYLE = /<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi

function hashes (markup: string, pattern: RegExp): string[] {
  const found = new Set<string>()
  for (const match of markup.matchAll(pattern)) {
    found.add(`'sha256-${createHash('sha256').update(match[1] ?? '', 'utf8').digest('base64')}'`)
  }
  return [...found]
}

/** A CSP as directive name → sources. */
function parsePolicy (policy: string): Map<string, string[]> {
  const directives = new Map<string, string[]>()
  for (const directive of policy.split(';')) {
    const [name, ...sources] = directive.trim().split(/\s+/)
    if (name !== undefined && name !== '' && !directives.has(name.toLowerCase())) directives.set(name.toLowerCase(), sources)
  }
  return directives
}

/**
 * The Content-Security-Policy of one HTML page: nothing loads unless named.
 * Inline <script> and <style> blocks are allowed by their hashes, so no
 * 'unsafe-inline' is needed and an injected script or an inline event
 * handler (onclick=) does not run. form-action is left open on purpose:
 * our pages auto-submit to platforms' and tools' URLs, which the operator
 * configures and we check before we post to them.
 *
 * `own` is a policy the route set before replying, for what only it needs
 * (`frame-src https://tool.example` to frame a tool, `frame-ancestors 'none'`
 * for a sign-in form): its directives replace the kit's of the same name,
 * and its script-src and style-src sources are added to the hashes.
 */
export function contentSecurityPolicy (markup: string, frameAncestors: string[] | undefined, own = ''): string {
  const scripts = hashes(markup, INLINE_SCRIPT)
  const styles = hashes(markup, INLINE_STYLE)
  const routes = parsePolicy(own)
  const merged = (name: string, computed: string[]): string[] => {
    const all = [...computed, ...(routes.get(name) ?? [])].filter((source) => source !== "'none'")
    return all.length > 0 ? all : ["'none'"]
  }
  const directives = new Map<string, string[]>([
    ['default-src', ["'none'"]],
    ['script-src', merged('script-src', scripts)],
    ['style-src', merged('style-src', styles)],
    ['img-src', ["'self'", 'data:']],
    // The broker's progress page follows its launch with server-sent events.
    ['connect-src', ["'self'"]],
    ['base-uri', ["'none'"]],
    ['object-src', ["'none'"]]
  ])
  if (frameAncestors !== undefined) directives.set('frame-ancestors', frameAncestors)
  for (const [name, sources] of routes) {
    if (name !== 'script-src' && name !== 'style-src') directives.set(name, sources)
  }
  return [...directives].map(([name, sources]) => `${name} ${sources.join(' ')}`).join('; ')
}

/** X-Frame-Options for browsers without CSP frame-ancestors, where it can say the same thing. */
function frameOptions (frameAncestors: string[] | undefined): string | undefined {
  if (frameAncestors?.length !== 1) return undefined
  if (frameAncestors[0] === "'self'") return 'SAMEORIGIN'
  if (frameAncestors[0] === "'none'") return 'DENY'
  return undefined
}

/**
 * Security headers on every reply of the service: nosniff and a referrer
 * policy everywhere; on HTML, a CSP with the hashes of that page's inline
 * blocks, and the framing policy.
 */
export default fp<SecurityHeadersOptions>(async function securityHeaders (fastify, options) {
  const ancestors = frameAncestorSources(options.frameAncestors)
  const xfo = frameOptions(ancestors)

  function apply (reply: FastifyReply, payload: unknown): void {
    for (const [name, value] of Object.entries(BASE_SECURITY_HEADERS)) reply.header(name, value)
    const type = String(reply.getHeader('content-type') ?? '')
    if (!type.startsWith('text/html')) {
      // JSON, redirects and streams load nothing; should one be opened as a document, it runs nothing either.
      if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'none'")
      return
    }
    const markup = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : ''
    // A route that needs more or frames differently (the platform's sign-in:
    // nobody) says so before it replies, in a CSP of its own, merged here;
    // with its own frame-ancestors, its own X-Frame-Options stands.
    const own = String(reply.getHeader('content-security-policy') ?? '')
    reply.header('content-security-policy', contentSecurityPolicy(markup, ancestors, own))
    if (!parsePolicy(own).has('frame-ancestors') && xfo !== undefined) reply.header('x-frame-options', xfo)
  }

  if (!fastify.hasDecorator('applySecurityHeaders')) fastify.decorate('applySecurityHeaders', apply)
  // On the raw response as well, so that a route that writes the response
  // itself (the broker's event stream: no onSend) still sends them.
  fastify.addHook('onRequest', async (_request, reply) => {
    for (const [name, value] of Object.entries(BASE_SECURITY_HEADERS)) reply.raw.setHeader(name, value)
  })
  fastify.addHook('onSend', async (_request, reply, payload) => {
    apply(reply, payload)
    return payload
  })
}, { name: 'ltilaunch-security-headers', fastify: '5.x' })
