/**
 * A browser's cookie jar, after RFC 6265bis as Chromium applies it:
 * host-only and Domain cookies, Path, Expires and Max-Age, Secure (with
 * loopback hosts counted as secure, as Chromium does), and SameSite,
 * where a site is the scheme and the registrable domain: localhost:3000 and
 * localhost:3001 are the same site, localhost and 127.0.0.1 are not.
 * HttpOnly does not matter here: there are no scripts.
 */

export type SameSite = 'strict' | 'lax' | 'none'

export interface Cookie {
  name: string
  value: string
  /** Lowercased, without a leading dot. */
  domain: string
  /** True without a Domain attribute: sent to exactly this host. */
  hostOnly: boolean
  path: string
  /** ms since the epoch; undefined for a session cookie. */
  expires?: number
  secure: boolean
  httpOnly: boolean
  /** undefined when the cookie did not say (Chromium treats it as Lax). */
  sameSite?: SameSite
  created: number
}

/** How a request is made, for the SameSite rules. */
export interface RequestContext {
  method: string
  /**
   * The URL of the page that started this navigation (a form, a link, a
   * redirect chain's start); undefined for a navigation the user typed.
   */
  initiator?: string
  /** True when some hop of the redirect chain so far was cross-site. */
  crossSiteChain?: boolean
}

/** Chromium's exemption for cookies without SameSite: cross-site POSTs for 2 minutes. */
const LAX_ALLOWING_UNSAFE_MS = 120_000

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/

function isIp (host: string): boolean {
  return IPV4.test(host) || host.includes(':') || host.startsWith('[')
}

/** Hosts that Chromium treats as potentially trustworthy over http. */
export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/**
 * The registrable domain, approximated without the public suffix list:
 * an IP address or localhost stands alone; otherwise the last two labels.
 */
export function registrableDomain (host: string): string {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '')
  if (isIp(h)) return h
  if (h === 'localhost' || h.endsWith('.localhost')) return 'localhost'
  return h.split('.').slice(-2).join('.')
}

/** The site of a URL: scheme and registrable domain (ports do not count). */
export function siteOf (url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url
  return `${u.protocol}//${registrableDomain(u.hostname)}`
}

function domainMatches (host: string, domain: string): boolean {
  if (host === domain) return true
  return !isIp(host) && host.endsWith(`.${domain}`)
}

function defaultPath (url: URL): string {
  const p = url.pathname
  if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/'
  return p.slice(0, p.lastIndexOf('/'))
}

function pathMatches (requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true
  if (!requestPath.startsWith(cookiePath)) return false
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'
}

function secureChannel (url: URL): boolean {
  return url.protocol === 'https:' || url.protocol === 'wss:' || isLoopback(url.hostname)
}

export class CookieJar {
  #cookies: Cookie[] = []
  /** The clock, replaceable so that tests can move it. */
  now: () => number = () => Date.now()

  /** Stores the cookies of one response to url. Returns those stored or removed, by name. */
  setFromResponse (url: string | URL, setCookie: string[]): string[] {
    const target = typeof url === 'string' ? new URL(url) : url
    const touched: string[] = []
    for (const line of setCookie) {
      const cookie = this.parse(target, line)
      if (cookie !== undefined) touched.push(cookie.name)
    }
    return touched
  }

  /** Parses and stores one Set-Cookie line; undefined when it is refused. */
  parse (url: URL, line: string): Cookie | undefined {
    const [pair = '', ...attributeParts] = line.split(';')
    const eq = pair.indexOf('=')
    const name = (eq < 0 ? '' : pair.slice(0, eq)).trim()
    let value = (eq < 0 ? pair : pair.slice(eq + 1)).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    if (name === '' && value === '') return undefined
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
    const now = this.now()
    let expires: number | undefined
    let maxAgeSeen = false
    let domainAttribute: string | undefined
    let cookiePath: string | undefined
    let secure = false
    let httpOnly = false
    let sameSite: SameSite | undefined
    for (const part of attributeParts) {
      const at = part.indexOf('=')
      const key = (at < 0 ? part : part.slice(0, at)).trim().toLowerCase()
      const val = (at < 0 ? '' : part.slice(at + 1)).trim()
      if (key === 'expires' && !maxAgeSeen) {
        const when = Date.parse(val)
        if (!Number.isNaN(when)) expires = when
      } else if (key === 'max-age') {
        if (/^-?\d+$/.test(val)) {
          maxAgeSeen = true
          const seconds = Number(val)
          expires = seconds <= 0 ? 0 : now + seconds * 1000
        }
      } else if (key === 'domain') {
        if (val !== '') domainAttribute = val.replace(/^\./, '').toLowerCase()
      } else if (key === 'path') {
        cookiePath = val.startsWith('/') ? val : undefined
      } else if (key === 'secure') {
        secure = true
      } else if (key === 'httponly') {
        httpOnly = true
      } else if (key === 'samesite') {
        const v = val.toLowerCase()
        sameSite = v === 'strict' || v === 'lax' || v === 'none' ? v : undefined
      }
    }
    let domain = host
    let hostOnly = true
    if (domainAttribute !== undefined) {
      if (!domainMatches(host, domainAttribute)) return undefined
      if (isIp(host) && domainAttribute !== host) return undefined
      domain = domainAttribute
      hostOnly = false
    }
    if (secure && !secureChannel(url)) return undefined
    if (name.startsWith('__Secure-') && !secure) return undefined
    if (name.startsWith('__Host-') && (!secure || !hostOnly || cookiePath !== '/')) return undefined
    // SameSite=None without Secure is refused by Chromium.
    if (sameSite === 'none' && !secure) return undefined
    const cookie: Cookie = {
      name,
      value,
      domain,
      hostOnly,
      path: cookiePath ?? defaultPath(url),
      ...(expires !== undefined ? { expires } : {}),
      secure,
      httpOnly,
      ...(sameSite !== undefined ? { sameSite } : {}),
      created: now
    }
    const same = (c: Cookie): boolean => c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path
    const existing = this.#cookies.find(same)
    if (existing) cookie.created = existing.created
    this.#cookies = this.#cookies.filter((c) => !same(c))
    if (cookie.expires === undefined || cookie.expires > now) this.#cookies.push(cookie)
    return cookie
  }

  /** The cookies a request to url carries, in the order a browser sends them. */
  cookiesFor (url: string | URL, context: RequestContext = { method: 'GET' }): Cookie[] {
    const target = typeof url === 'string' ? new URL(url) : url
    const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, '')
    const now = this.now()
    this.#cookies = this.#cookies.filter((c) => c.expires === undefined || c.expires > now)
    const crossSite = context.crossSiteChain === true ||
      (context.initiator !== undefined && siteOf(context.initiator) !== siteOf(target))
    const safeMethod = ['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(context.method.toUpperCase())
    return this.#cookies
      .filter((c) => c.hostOnly ? host === c.domain : domainMatches(host, c.domain))
      .filter((c) => pathMatches(target.pathname || '/', c.path))
      .filter((c) => !c.secure || secureChannel(target))
      .filter((c) => {
        if (!crossSite) return true
        if (c.sameSite === 'none') return true
        if (c.sameSite === 'strict') return false
        // Lax (said, or by default): top-level navigations with a safe method.
        if (safeMethod) return true
        return c.sameSite === undefined && now - c.created < LAX_ALLOWING_UNSAFE_MS
      })
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created)
  }

  /** The Cookie header for a request, or '' when none applies. */
  header (url: string | URL, context?: RequestContext): string {
    return this.cookiesFor(url, context).map((c) => `${c.name}=${c.value}`).join('; ')
  }

  /** The value of a cookie that a request to url would carry. */
  get (name: string, url: string | URL): string | undefined {
    return this.cookiesFor(url).find((c) => c.name === name)?.value
  }

  /** Every cookie held (copies). */
  all (): Cookie[] {
    const now = this.now()
    return this.#cookies.filter((c) => c.expires === undefined || c.expires > now).map((c) => ({ ...c }))
  }

  /** Removes cookies by name (and domain), or all of them. */
  clear (filter?: { name?: string, domain?: string }): void {
    if (!filter) {
      this.#cookies = []
      return
    }
    this.#cookies = this.#cookies.filter((c) =>
      !((filter.name === undefined || c.name === filter.name) && (filter.domain === undefined || c.domain === filter.domain)))
  }
}
