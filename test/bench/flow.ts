import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { BenchBrowser, metaRefresh, parseForms, rawRequest, readEvents, type Reply } from './lib/client.js'
import { CLIENT_ID, DEPLOYMENT_ID, HUB_CLIENT_ID, IMAGES, type ServiceName, type Stack } from './stack.js'

/**
 * One whole launch, as a browser and the hub would do it, every hop timed:
 *
 *   host site   POST /api/v1/launches (server to server) -> one-time URL
 *   browser     GET one-time URL (platform) -> tool-auth login -> platform
 *               authorize -> auto-submitted form_post to tool-auth callback
 *               -> broker progress page, whose event stream (as its
 *               EventSource would) says when the dry-run spawn is ready
 *   hub         browser GET tool-auth /oauth2/authorize (session cookie,
 *               PKCE) -> code; then server side, client credentials:
 *               POST /oauth2/token, GET /oauth2/userinfo
 *
 * The browser follows redirects and auto-submitted forms generically, so a
 * step is named after the service and route it hit, not assumed.
 */

export interface LaunchOutcome {
  ok: boolean
  /** Milliseconds per step (several requests of one step add up). */
  steps: Map<string, number>
  totalMs: number
  requests: number
  /** Progress events read while waiting for ready. */
  polls: number
  /** Times the progress stream ended without saying ready or failed, and was opened again. */
  reconnects: number
  failure?: { step: string, status: number, code: string, detail: string }
}

class LaunchFailure extends Error {
  constructor (readonly step: string, readonly status: number, readonly code: string, detail: string) {
    super(detail)
  }
}

function codeOf (reply: Reply): string {
  return /"code"\s*:\s*"([^"]+)"/.exec(reply.body)?.[1] ??
    /class="code"[^>]*>([^<]+)</.exec(reply.body)?.[1] ??
    /<title>([^<]*)<\/title>/i.exec(reply.body)?.[1] ?? ''
}

function serviceOf (stack: Stack, url: URL): ServiceName | 'hub' | 'other' {
  for (const service of Object.values(stack.services)) {
    if (new URL(service.publicUrl).origin === url.origin) return service.name
    if (service.replicas.some((replica) => new URL(replica.url).origin === url.origin)) return service.name
  }
  if (new URL(stack.hubPublicUrl).origin === url.origin) return 'hub'
  return 'other'
}

/** A step's name: the service and its route, with ids folded away. */
export function stepName (stack: Stack, method: string, url: URL): string {
  const service = serviceOf(stack, url)
  const short = service === 'spawner-broker' ? 'broker' : service
  const p = url.pathname
  if (p.startsWith('/lti13/oauth_login') || p.startsWith('/lti13/login')) return `${short} login`
  if (p.startsWith('/lti13/oauth_callback')) return `${short} callback`
  if (p.startsWith('/lti/authorize')) return `${short} authorize`
  if (p.startsWith('/oauth2/')) return `${short} ${p.slice('/oauth2/'.length)}`
  if (p.startsWith('/v1/launches/')) return `${short} status`
  if (p.startsWith('/launches/')) return service === 'platform' ? 'platform launch-url' : `${short} progress page`
  const route = p.split('/').map((part) => (part.length > 16 || /\d{3,}/.test(part) ? ':id' : part)).join('/')
  return `${short} ${method} ${route}`
}

export interface FlowOptions {
  /** How long to wait for the dry-run spawn to be ready. */
  readyTimeoutMs: number
  /** EventSource's pause before it opens an ended stream again (browsers: about 3 s). */
  reconnectMs: number
}

export const defaultFlowOptions: FlowOptions = { readyTimeoutMs: 15000, reconnectMs: 3000 }

export async function launchOnce (stack: Stack, user: number, options: FlowOptions = defaultFlowOptions): Promise<LaunchOutcome> {
  const steps = new Map<string, number>()
  let requests = 0
  let polls = 0
  let reconnects = 0
  const browser = new BenchBrowser(stack.router)
  const t0 = performance.now()
  const timed = async (step: string, fn: () => Promise<Reply>): Promise<Reply> => {
    const start = performance.now()
    let reply: Reply
    try {
      reply = await fn()
    } catch (err) {
      throw new LaunchFailure(step, 0, 'network', (err as Error).message)
    }
    steps.set(step, (steps.get(step) ?? 0) + performance.now() - start)
    requests++
    return reply
  }
  const fail = (step: string, reply: Reply, why: string): never => {
    throw new LaunchFailure(step, reply.status, codeOf(reply), `${why}: ${reply.status} ${reply.body.slice(0, 300).replace(/\s+/g, ' ')}`)
  }

  try {
    const username = `bench-user-${user}@example.edu`
    // 1. The host site asks the platform for a one-time launch URL (server to server).
    const platform = stack.services.platform.publicUrl
    const api = await timed('host launch-api', async () => await rawRequest(stack.router, 'POST', `${platform}/api/v1/launches`, {
      headers: { authorization: `Bearer ${stack.platformApiKey}`, accept: 'application/json' },
      json: {
        client_id: CLIENT_ID,
        deployment_id: DEPLOYMENT_ID,
        user: {
          id: `bench-user-${user}`,
          name: `Bench User ${user}`,
          given_name: 'Bench',
          family_name: `User ${user}`,
          email: username,
          roles: ['Learner']
        },
        context: { id: 'bench-course-6-0001', label: '6.0001', title: 'Introduction to Computer Science and Programming in Python' },
        resource_link: { id: 'bench-resource-link-1', title: 'Week 1 notebook' },
        custom: { image: IMAGES.minimal }
      }
    }))
    if (api.status !== 200 && api.status !== 201) fail('host launch-api', api, 'the launch API refused')
    const first = (JSON.parse(api.body) as { launchUrl?: string }).launchUrl
    if (!first) fail('host launch-api', api, 'no launch URL in the reply')

    // 2. The browser walks: redirects and auto-submitted forms, until the progress page or the hub.
    let method = 'GET'
    let url = new URL(first as string, platform)
    let form: Record<string, string> | undefined
    let launchId: string | undefined
    let ready = false
    for (let hop = 0; hop < 20; hop++) {
      const step = stepName(stack, method, url)
      const current = url.toString()
      const reply = await timed(step, async () => method === 'POST'
        ? await browser.post(current, form ?? {})
        : await browser.get(current))
      if (serviceOf(stack, url) === 'spawner-broker' && url.pathname.startsWith('/launches/')) launchId ??= url.pathname.split('/')[2]
      if (reply.status >= 300 && reply.status < 400 && reply.location) {
        const next = new URL(reply.location)
        if (serviceOf(stack, next) === 'hub') {
          ready = true
          break
        }
        method = 'GET'
        form = undefined
        url = next
        continue
      }
      if (reply.status !== 200) fail(step, reply, 'unexpected reply')
      const autosubmit = parseForms(reply.body, current).find((f) => f.method === 'POST')
      if (autosubmit && /\.submit\(\)/.test(reply.body)) {
        method = 'POST'
        form = autosubmit.fields
        url = new URL(autosubmit.action)
        continue
      }
      if (launchId) break // the progress page, not ready yet: poll below
      const refresh = metaRefresh(reply.body, current)
      if (refresh) {
        method = 'GET'
        url = new URL(refresh)
        continue
      }
      fail(step, reply, 'a page with nowhere to go')
    }

    // 3. The progress page follows the launch over its event stream (EventSource) until ready.
    if (!ready) {
      if (!launchId) throw new LaunchFailure('broker progress page', 0, 'no-launch', 'the walk did not reach the progress page')
      const broker = stack.services['spawner-broker'].publicUrl
      const start = performance.now()
      const deadline = start + options.readyTimeoutMs
      let end: Awaited<ReturnType<typeof readEvents>> | undefined
      // As EventSource does: a stream that ends without the last word is opened again after a pause.
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) {
          reconnects++
          await sleep(Math.min(options.reconnectMs, Math.max(0, deadline - performance.now())))
        }
        const left = deadline - performance.now()
        if (left <= 0) throw new LaunchFailure('broker wait-ready', end?.status ?? 0, 'timeout', `not ready within ${options.readyTimeoutMs} ms (${reconnects} reconnects)`)
        try {
          end = await readEvents(stack.router, `${broker}/launches/${launchId as string}/events`, {
            timeoutMs: left,
            done: (_event, data) => /"status"\s*:\s*"(ready|failed)"/.test(data)
          })
        } catch (err) {
          throw new LaunchFailure('broker wait-ready', 0, 'timeout', (err as Error).message)
        }
        requests++
        polls += end.events
        if (end.status !== 200 || end.data !== undefined) break
      }
      steps.set('broker wait-ready', performance.now() - start)
      if (end.status !== 200 || !end.data || !/"status"\s*:\s*"ready"/.test(end.data)) {
        throw new LaunchFailure('broker wait-ready', end.status, 'not-ready', `the launch did not become ready: ${end.data ?? 'the stream ended'}`)
      }
    }

    // 4. The hub (GenericOAuthenticator, PKCE) sends the browser to tool-auth's authorize.
    const tool = stack.services['tool-auth'].publicUrl
    const verifier = randomBytes(32).toString('base64url')
    const hubState = randomBytes(16).toString('base64url')
    const authorize = new URL(`${tool}/oauth2/authorize`)
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: HUB_CLIENT_ID,
      redirect_uri: stack.hubRedirectUri,
      state: hubState,
      scope: 'openid profile',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256'
    }).toString()
    const code = await timed('tool-auth authorize', async () => await browser.get(authorize.toString()))
    const back = code.location ? new URL(code.location) : undefined
    if (!back || back.searchParams.get('state') !== hubState || !back.searchParams.get('code')) {
      fail('tool-auth authorize', code, 'no code for the hub')
    }

    // 5. The hub, server side: the code for tokens, then userinfo.
    const basic = Buffer.from(`${HUB_CLIENT_ID}:${stack.hubClientSecret}`).toString('base64')
    const token = await timed('tool-auth token', async () => await rawRequest(stack.router, 'POST', `${tool}/oauth2/token`, {
      headers: { authorization: `Basic ${basic}`, accept: 'application/json' },
      form: {
        grant_type: 'authorization_code',
        code: back?.searchParams.get('code') as string,
        redirect_uri: stack.hubRedirectUri,
        code_verifier: verifier
      }
    }))
    if (token.status !== 200) fail('tool-auth token', token, 'token exchange')
    const accessToken = (JSON.parse(token.body) as { access_token?: string }).access_token
    if (!accessToken) fail('tool-auth token', token, 'no access_token')
    const info = await timed('tool-auth userinfo', async () => await rawRequest(stack.router, 'GET', `${tool}/oauth2/userinfo`, {
      headers: { authorization: `Bearer ${accessToken as string}`, accept: 'application/json' }
    }))
    if (info.status !== 200) fail('tool-auth userinfo', info, 'userinfo')
    const name = (JSON.parse(info.body) as { name?: string }).name
    if (name !== username) fail('tool-auth userinfo', info, `userinfo names ${name ?? 'nobody'}, not ${username}`)
    return { ok: true, steps, totalMs: performance.now() - t0, requests, polls, reconnects }
  } catch (err) {
    const failure = err instanceof LaunchFailure
      ? { step: err.step, status: err.status, code: err.code, detail: err.message }
      : { step: 'bench', status: 0, code: 'error', detail: (err as Error).stack ?? String(err) }
    return { ok: false, steps, totalMs: performance.now() - t0, requests, polls, reconnects, failure }
  }
}
