/**
 * A browser without a browser, for the end-to-end tests and the benchmarks:
 * plain node:http requests (Node's fetch replaces Sec-Fetch-Mode with
 * "cors", and JupyterHub's single-user servers refuse cookie logins on GETs
 * that are not navigations), a cookie jar of its own (see
 * cookies.ts), redirects followed by the fetch spec's method rules, the
 * headers a navigation carries (Origin, Referer, Sec-Fetch-*), and forms
 * submitted the way a page that submits itself does. It runs no scripts:
 * the pages it meets either redirect, submit a form by themselves, refresh,
 * or are where the launch ends.
 */
import http from 'node:http'
import https from 'node:https'
import { CookieJar, siteOf } from './cookies.js'
import { findAutoSubmitForm, metaRefresh, parseForms, parseRefresh, type HtmlForm } from './html.js'

export interface Step {
  method: string
  url: string
  status: number
  /** Time to the full response body. */
  ms: number
  /** How this request came about. */
  via: 'navigate' | 'redirect' | 'form' | 'auto-submit' | 'refresh'
  /** A redirect's resolved Location. */
  location?: string
}

export interface Page {
  url: string
  status: number
  headers: Headers
  body: string
  /** Every request made to reach this page, redirects included. */
  steps: Step[]
  /** The forms of the page (parsed on first use). */
  forms: () => HtmlForm[]
  contentType: string
}

export interface RequestInit {
  method?: string
  /** urlencoded form fields (entries keep repeated names). */
  form?: Record<string, string> | Array<[string, string]>
  json?: unknown
  body?: string
  headers?: Record<string, string>
  /** The page the navigation starts from (Origin, Referer, SameSite). */
  initiator?: string
  via?: Step['via']
  maxRedirects?: number
}

export interface LaunchOptions {
  /** Upper bound on requests (redirects, submissions, refreshes). Default 30. */
  maxSteps?: number
  /** Follow meta refresh / Refresh header, as a browser without scripts does. Default false. */
  refresh?: boolean
  /** Longest wait a refresh may ask for (ms); longer delays are cut to this. Default 2000. */
  maxRefreshWaitMs?: number
  /** Stop early when a page satisfies this (checked on each settled page). */
  until?: (page: Page) => boolean
  /** The first request's method and form (default GET). */
  method?: string
  form?: Record<string, string> | Array<[string, string]>
  initiator?: string
  onStep?: (step: Step) => void
}

export interface LaunchResult {
  page: Page
  steps: Step[]
  /** Total time of all steps, ms. */
  ms: number
}

export interface ClientOptions {
  userAgent?: string
  /** Per request, ms. Default 30 s. */
  timeoutMs?: number
  jar?: CookieJar
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

interface RawReply { status: number, headers: Headers, text: string }

/**
 * One HTTP request, headers sent as given. Not fetch: Node's fetch sets
 * Sec-Fetch-Mode: cors over ours, so no request of it is a navigation.
 */
async function send (url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<RawReply> {
  const request = url.protocol === 'https:' ? https.request : http.request
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const replyHeaders = new Headers()
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue
          for (const one of Array.isArray(value) ? value : [value]) replyHeaders.append(name, one)
        }
        resolve({ status: res.statusCode ?? 0, headers: replyHeaders, text: Buffer.concat(chunks).toString('utf8') })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

function serializeForm (form: Record<string, string> | Array<[string, string]>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Array.isArray(form) ? form : Object.entries(form)) params.append(name, value)
  return params.toString()
}

/** Sec-Fetch-Site of a navigation, from its initiator and its redirect chain so far. */
function fetchSite (initiator: string | undefined, target: URL, leftOrigin: boolean, leftSite: boolean): string {
  if (initiator === undefined) return 'none'
  if (!leftOrigin && new URL(initiator).origin === target.origin) return 'same-origin'
  if (!leftSite && siteOf(initiator) === siteOf(target)) return 'same-site'
  return 'cross-site'
}

/** The Referer a browser sends by default (strict-origin-when-cross-origin). */
function referrer (from: string, to: URL): string | undefined {
  const source = new URL(from)
  if (source.protocol === 'https:' && to.protocol === 'http:') return undefined
  if (source.origin === to.origin) {
    source.hash = ''
    return source.toString()
  }
  return `${source.origin}/`
}

export class BrowserClient {
  readonly jar: CookieJar
  readonly userAgent: string
  readonly timeoutMs: number

  constructor (options: ClientOptions = {}) {
    this.jar = options.jar ?? new CookieJar()
    this.userAgent = options.userAgent ?? 'ltilaunch-e2e (like a browser without scripts)'
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  /**
   * Navigates: sends one request and follows its redirects (301/302 turn a
   * POST into a GET, 303 turns anything but GET/HEAD into a GET, 307/308
   * keep the method and the body), carrying cookies at each hop.
   */
  async navigate (url: string, init: RequestInit = {}): Promise<Page> {
    let method = (init.method ?? (init.form !== undefined || init.json !== undefined || init.body !== undefined ? 'POST' : 'GET')).toUpperCase()
    let body: string | undefined
    const headers: Record<string, string> = { ...init.headers }
    if (init.form !== undefined) {
      body = serializeForm(init.form)
      headers['content-type'] ??= 'application/x-www-form-urlencoded'
    } else if (init.json !== undefined) {
      body = JSON.stringify(init.json)
      headers['content-type'] ??= 'application/json'
    } else if (init.body !== undefined) {
      body = init.body
    }
    const steps: Step[] = []
    const maxRedirects = init.maxRedirects ?? 20
    let via: Step['via'] = init.via ?? 'navigate'
    let current = new URL(url)
    current.hash = ''
    let referrerUrl = init.initiator
    let crossSiteChain = false
    // Origin is "null" once a redirect chain has left the initiator's origin.
    let originTainted = false
    for (let hop = 0; ; hop++) {
      const requestHeaders: Record<string, string> = {
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        'accept-language': 'en',
        'user-agent': this.userAgent,
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
        'sec-fetch-site': fetchSite(init.initiator, current, crossSiteChain || originTainted, crossSiteChain)
      }
      // The caller's headers; a body's content-type goes when a redirect drops the body.
      for (const [name, value] of Object.entries(headers)) {
        if (name.toLowerCase() !== 'content-type' || body !== undefined) requestHeaders[name.toLowerCase()] = value
      }
      const cookie = this.jar.header(current, { method, initiator: init.initiator, crossSiteChain })
      if (cookie !== '') requestHeaders.cookie = cookie
      if (referrerUrl !== undefined) {
        const ref = referrer(referrerUrl, current)
        if (ref !== undefined) requestHeaders.referer = ref
      }
      if (method !== 'GET' && method !== 'HEAD' && init.initiator !== undefined) {
        requestHeaders.origin = originTainted ? 'null' : new URL(init.initiator).origin
      }
      const started = performance.now()
      let reply: RawReply
      try {
        reply = await send(current, method, requestHeaders, body, this.timeoutMs)
      } catch (err) {
        const cause = (err as Error).cause instanceof Error ? `: ${((err as Error).cause as Error).message}` : ''
        throw new Error(`${method} ${current.toString()} failed: ${(err as Error).message}${cause}${steps.length ? `\nafter ${describeSteps(steps)}` : ''}`)
      }
      const text = reply.text
      const ms = performance.now() - started
      this.jar.setFromResponse(current, reply.headers.getSetCookie())
      const location = reply.headers.get('location')
      const step: Step = { method, url: current.toString(), status: reply.status, ms, via }
      if (REDIRECTS.has(reply.status) && location !== null) {
        const next = new URL(location, current)
        next.hash = ''
        step.location = next.toString()
        steps.push(step)
        if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects:\n${describeSteps(steps)}`)
        if (((reply.status === 301 || reply.status === 302) && method === 'POST') ||
          (reply.status === 303 && method !== 'GET' && method !== 'HEAD')) {
          method = 'GET'
          body = undefined
        }
        if (init.initiator !== undefined && siteOf(init.initiator) !== siteOf(current)) crossSiteChain = true
        if (init.initiator !== undefined && new URL(init.initiator).origin !== current.origin) originTainted = true
        referrerUrl = current.toString()
        current = next
        via = 'redirect'
        continue
      }
      steps.push(step)
      let forms: HtmlForm[] | undefined
      const pageUrl = current.toString()
      return {
        url: pageUrl,
        status: reply.status,
        headers: reply.headers,
        body: text,
        steps,
        contentType: reply.headers.get('content-type') ?? '',
        forms: () => (forms ??= parseForms(text, pageUrl))
      }
    }
  }

  async get (url: string, init: Omit<RequestInit, 'method'> = {}): Promise<Page> {
    return await this.navigate(url, { ...init, method: 'GET' })
  }

  async post (url: string, form: Record<string, string> | Array<[string, string]>, init: Omit<RequestInit, 'method' | 'form'> = {}): Promise<Page> {
    return await this.navigate(url, { ...init, method: 'POST', form })
  }

  /**
   * Submits a form of a page as a browser does: its action (or the page
   * itself), its method, its successful controls, plus the submitter
   * button's name and value when one is named, with fields overriding.
   */
  async submitForm (html: string | Page, options: {
    baseUrl?: string
    formIndex?: number
    /** Pick the form by id or name instead of index. */
    formId?: string
    fields?: Record<string, string>
    /** The submit button pressed, by its name, value or label. */
    submitter?: string
    via?: Step['via']
  } = {}): Promise<Page> {
    const pageUrl = typeof html === 'string' ? options.baseUrl : html.url
    if (pageUrl === undefined) throw new Error('submitForm needs the page URL (baseUrl) to resolve the form action')
    const forms = typeof html === 'string' ? parseForms(html, pageUrl) : html.forms()
    const form = options.formId !== undefined
      ? forms.find((f) => f.id === options.formId || f.name === options.formId)
      : forms[options.formIndex ?? 0]
    if (form === undefined) {
      throw new Error(`no form ${options.formId ?? options.formIndex ?? 0} on ${pageUrl} (it has ${forms.length})`)
    }
    return await this.#submit(form, pageUrl, options)
  }

  async #submit (form: HtmlForm, pageUrl: string, options: { fields?: Record<string, string>, submitter?: string, via?: Step['via'] } = {}): Promise<Page> {
    if (form.method === 'POST' && form.enctype !== 'application/x-www-form-urlencoded') {
      throw new Error(`form ${form.index} on ${pageUrl} uses ${form.enctype}; only urlencoded forms are supported`)
    }
    const entries = form.entries.filter(([name]) => options.fields?.[name] === undefined)
    if (options.submitter !== undefined) {
      const button = form.controls.find((c) => c.submit && [c.name, c.value, c.label].includes(options.submitter as string))
      if (button === undefined) throw new Error(`form ${form.index} on ${pageUrl} has no submit button ${options.submitter}`)
      if (button.name !== '') entries.push([button.name, button.value])
    }
    for (const [name, value] of Object.entries(options.fields ?? {})) entries.push([name, value])
    const via = options.via ?? 'form'
    if (form.method === 'GET') {
      const target = new URL(form.action)
      target.search = serializeForm(entries)
      return await this.navigate(target.toString(), { method: 'GET', initiator: pageUrl, via })
    }
    return await this.navigate(form.action, { method: 'POST', form: entries, initiator: pageUrl, via })
  }

  /**
   * Follows a launch from url: redirects, forms that submit themselves and
   * (with refresh) meta refreshes, until a page that does none of these,
   * recording each request. Throws past maxSteps, listing the steps.
   */
  async followLaunch (url: string, options: LaunchOptions = {}): Promise<LaunchResult> {
    const maxSteps = options.maxSteps ?? 30
    const steps: Step[] = []
    const record = (page: Page): void => {
      for (const step of page.steps) {
        steps.push(step)
        options.onStep?.(step)
      }
      if (steps.length > maxSteps) throw new Error(`the launch took more than ${maxSteps} steps:\n${describeSteps(steps)}`)
    }
    let page = await this.navigate(url, {
      method: options.method ?? (options.form ? 'POST' : 'GET'),
      ...(options.form ? { form: options.form } : {}),
      ...(options.initiator ? { initiator: options.initiator } : {})
    })
    record(page)
    for (;;) {
      if (options.until?.(page)) break
      const html = /html/i.test(page.contentType) || page.contentType === ''
      const form = html ? findAutoSubmitForm(page.body, page.url) : undefined
      if (form !== undefined) {
        page = await this.#submit(form, page.url, { via: 'auto-submit' })
        record(page)
        continue
      }
      const refreshHeader = page.headers.get('refresh')
      const refresh = options.refresh
        ? (refreshHeader !== null ? parseRefresh(refreshHeader, page.url) : undefined) ?? (html ? metaRefresh(page.body, page.url) : undefined)
        : undefined
      if (refresh !== undefined) {
        const wait = Math.min(refresh.delaySeconds * 1000, options.maxRefreshWaitMs ?? 2000)
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        page = await this.navigate(refresh.url, { method: 'GET', initiator: page.url, via: 'refresh' })
        record(page)
        continue
      }
      break
    }
    return { page, steps, ms: steps.reduce((sum, step) => sum + step.ms, 0) }
  }
}

/** The steps, one a line: "POST 303 12ms http://…  → http://…". */
export function describeSteps (steps: Step[]): string {
  return steps.map((s, i) =>
    `${String(i + 1).padStart(2)}. ${s.via.padEnd(11)} ${s.method.padEnd(4)} ${s.status} ${s.ms.toFixed(0).padStart(5)}ms ${s.url}${s.location ? `  -> ${s.location}` : ''}`
  ).join('\n')
}
