import http, { type IncomingHttpHeaders } from 'node:http'

/**
 * The bench's simulated browser: plain node:http on keep-alive sockets
 * (cheap, so that the load generator leaves the cores to the services), a
 * cookie jar per browser, and no automatic redirects: the flow follows each
 * hop itself so that every step is timed on its own.
 *
 * Cookies are kept per host name, not per port, as browsers do: platform,
 * tool-auth and broker all on 127.0.0.1 share one jar, like localhost:3000
 * and localhost:3001 do in a real browser.
 */

export interface Reply {
  url: string
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** The Location header resolved against the request URL. */
  location?: string
}

/**
 * Where a public origin really is. With replicas, one public origin (what
 * PUBLIC_URL says, as a load balancer would own) maps to several real
 * ports, and each request picks the next one: a balancer without
 * stickiness, so one launch moves between replicas in the middle.
 */
export class Router {
  readonly #routes = new Map<string, { targets: string[], next: number }>()
  /** Requests sent to each real origin through a balanced route. */
  readonly sent = new Map<string, number>()

  add (publicOrigin: string, targets: string[]): void {
    this.#routes.set(publicOrigin, { targets, next: 0 })
  }

  resolve (url: URL): { host: string, port: number } {
    const route = this.#routes.get(url.origin)
    if (!route) return { host: url.hostname, port: Number(url.port || 80) }
    const chosen = route.targets[route.next % route.targets.length] as string
    const target = new URL(chosen)
    route.next++
    this.sent.set(chosen, (this.sent.get(chosen) ?? 0) + 1)
    return { host: target.hostname, port: Number(target.port || 80) }
  }
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 512 })

export interface RequestOptions {
  headers?: Record<string, string>
  form?: Record<string, string>
  json?: unknown
  timeoutMs?: number
}

export async function rawRequest (router: Router, method: string, url: string, options: RequestOptions = {}): Promise<Reply> {
  const target = new URL(url)
  const { host, port } = router.resolve(target)
  const headers: Record<string, string> = { host: target.host, 'user-agent': 'ltilaunch-bench', ...options.headers }
  let payload: string | undefined
  if (options.form) {
    payload = new URLSearchParams(options.form).toString()
    headers['content-type'] = 'application/x-www-form-urlencoded'
  } else if (options.json !== undefined) {
    payload = JSON.stringify(options.json)
    headers['content-type'] = 'application/json'
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload))
  return await new Promise<Reply>((resolve, reject) => {
    const req = http.request({ host, port, method, path: target.pathname + target.search, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const location = res.headers.location
        resolve({
          url,
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(location ? { location: new URL(location, url).toString() } : {})
        })
      })
    })
    req.setTimeout(options.timeoutMs ?? 30000, () => req.destroy(new Error(`timeout: ${method} ${url}`)))
    req.on('error', reject)
    if (payload !== undefined) req.write(payload)
    req.end()
  })
}

/**
 * Reads a server-sent event stream, as an EventSource would, until `done`
 * says so for an event (then the connection is dropped), the stream ends,
 * or time runs out. Returns the event that ended it.
 */
export async function readEvents (router: Router, url: string, options: {
  headers?: Record<string, string>
  timeoutMs: number
  done: (event: string, data: string) => boolean
}): Promise<{ status: number, event?: string, data?: string, events: number }> {
  const target = new URL(url)
  const { host, port } = router.resolve(target)
  return await new Promise((resolve, reject) => {
    let events = 0
    let settled = false
    const req = http.request({
      host,
      port,
      method: 'GET',
      path: target.pathname + target.search,
      headers: { host: target.host, accept: 'text/event-stream', 'user-agent': 'ltilaunch-bench', ...options.headers },
      agent: false
    }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        settled = true
        resolve({ status: res.statusCode ?? 0, events })
        return
      }
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim()
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
          }
          if (data.length === 0) continue // a comment (keepalive)
          events++
          if (!settled && options.done(event, data.join('\n'))) {
            settled = true
            clearTimeout(timer)
            req.destroy()
            resolve({ status: 200, event, data: data.join('\n'), events })
            return
          }
        }
      })
      res.on('end', () => {
        clearTimeout(timer)
        if (!settled) {
          settled = true
          resolve({ status: 200, events })
        }
      })
      res.on('error', () => {})
    })
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      req.destroy()
      reject(new Error(`no end event within ${options.timeoutMs} ms: ${url}`))
    }, options.timeoutMs)
    req.on('error', (err) => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        reject(err)
      }
    })
    req.end()
  })
}

interface Cookie { name: string, value: string, path: string }

export class BenchBrowser {
  readonly #jar = new Map<string, Map<string, Cookie>>()
  readonly router: Router

  constructor (router: Router) {
    this.router = router
  }

  async request (method: string, url: string, options: RequestOptions = {}): Promise<Reply> {
    const target = new URL(url)
    const cookie = this.cookieHeader(target)
    const headers = { accept: 'text/html,application/xhtml+xml', ...(cookie ? { cookie } : {}), ...options.headers }
    const reply = await rawRequest(this.router, method, url, { ...options, headers })
    this.store(target, reply.headers['set-cookie'])
    return reply
  }

  async get (url: string, options: RequestOptions = {}): Promise<Reply> {
    return await this.request('GET', url, options)
  }

  async post (url: string, form: Record<string, string>, options: RequestOptions = {}): Promise<Reply> {
    return await this.request('POST', url, { ...options, form })
  }

  cookieHeader (url: URL): string {
    const cookies = this.#jar.get(url.hostname)
    if (!cookies) return ''
    const parts: string[] = []
    for (const cookie of cookies.values()) {
      if (url.pathname.startsWith(cookie.path)) parts.push(`${cookie.name}=${cookie.value}`)
    }
    return parts.join('; ')
  }

  cookie (host: string, name: string): string | undefined {
    for (const cookie of this.#jar.get(host)?.values() ?? []) if (cookie.name === name) return cookie.value
    return undefined
  }

  store (url: URL, setCookie: string[] | undefined): void {
    if (!setCookie) return
    let cookies = this.#jar.get(url.hostname)
    if (!cookies) {
      cookies = new Map()
      this.#jar.set(url.hostname, cookies)
    }
    for (const line of setCookie) {
      const [pair = '', ...attributes] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      let cookiePath = '/'
      let expired = false
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=').map((part) => part.trim())
        const lower = key.toLowerCase()
        if (lower === 'path' && val.startsWith('/')) cookiePath = val
        if (lower === 'max-age' && Number(val) <= 0) expired = true
        if (lower === 'expires' && Date.parse(val) < Date.now()) expired = true
      }
      const key = `${name};${cookiePath}`
      if (expired || value === '') cookies.delete(key)
      else cookies.set(key, { name, value, path: cookiePath })
    }
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'", '#x27': "'", '#x2F': '/', '#47': '/' }

export function unescapeHtml (text: string): string {
  return text.replace(/&(#?[\w]+);/g, (whole, entity: string) => {
    const known = ENTITIES[entity]
    if (known !== undefined) return known
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16))
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)))
    return whole
  })
}

function attribute (tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag)
  if (!match) return undefined
  return unescapeHtml(match[1] ?? match[2] ?? match[3] ?? '')
}

export interface HtmlForm {
  action: string
  method: string
  fields: Record<string, string>
}

/** The forms of a page (action resolved against the page URL), with their inputs' values. */
export function parseForms (body: string, pageUrl: string): HtmlForm[] {
  const forms: HtmlForm[] = []
  const formPattern = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi
  let match: RegExpExecArray | null
  while ((match = formPattern.exec(body)) !== null) {
    const tag = match[1] ?? ''
    const inner = match[2] ?? ''
    const fields: Record<string, string> = {}
    for (const input of inner.matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const name = attribute(input[2] ?? '', 'name')
      if (!name) continue
      const type = (attribute(input[2] ?? '', 'type') ?? '').toLowerCase()
      if ((type === 'checkbox' || type === 'radio') && !/\schecked\b/i.test(input[2] ?? '')) continue
      if (input[1]?.toLowerCase() === 'button' && fields[name] !== undefined) continue
      fields[name] = attribute(input[2] ?? '', 'value') ?? ''
    }
    for (const select of inner.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/gi)) {
      const name = attribute(select[1] ?? '', 'name')
      if (!name) continue
      const options = [...(select[2] ?? '').matchAll(/<option\b([^>]*)>([\s\S]*?)<\/option>/gi)]
      const chosen = options.find((option) => /\sselected\b/i.test(option[1] ?? '')) ?? options[0]
      if (chosen) fields[name] = attribute(chosen[1] ?? '', 'value') ?? unescapeHtml((chosen[2] ?? '').trim())
    }
    forms.push({
      action: new URL(attribute(tag, 'action') ?? pageUrl, pageUrl).toString(),
      method: (attribute(tag, 'method') ?? 'get').toUpperCase(),
      fields
    })
  }
  return forms
}

/** The target of a `<meta http-equiv="refresh">`, if the page has one. */
export function metaRefresh (body: string, pageUrl: string): string | undefined {
  const tag = /<meta\b[^>]*http-equiv\s*=\s*["']?refresh["']?[^>]*>/i.exec(body)?.[0]
  if (!tag) return undefined
  const content = attribute(tag, 'content') ?? ''
  const url = /url\s*=\s*['"]?([^'"]+)/i.exec(content)?.[1]
  return url ? new URL(url.trim(), pageUrl).toString() : undefined
}
