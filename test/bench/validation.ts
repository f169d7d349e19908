import { BenchBrowser, Router } from './lib/client.js'
import type { Redis } from 'ioredis'
import { cpuMs } from './lib/proc.js'
import { commandStats, diffStats } from './lib/redis.js'
import { runPool, summarize, type Summary } from './lib/stats.js'
import { launchPayload, signPayload, type BenchPlatform } from './tokens.js'

/**
 * Launch validation alone: (state, id_token) pairs made before the clock
 * starts (the login step is done for real, so each pair has its state
 * cookie and its nonce, and the token is signed by the bench platform with
 * that nonce), then posted to the tool's callback. The same code measures
 * tool-auth, an ltijs tool and jupyterhub-ltiauthenticator.
 */

export interface ValidationTarget {
  name: string
  loginUrl: string
  callbackUrl: string
  targetLinkUri: string
  /** Processes whose CPU time is the tool's (for CPU ms per callback). */
  pids: number[]
}

export interface ValidationResult {
  target: string
  requests: number
  ok: number
  failed: number
  failures: Record<string, number>
  concurrency: number
  elapsedMs: number
  perSecond: number
  latency: Summary
  cpuMsPerCallback: number
  timedOut: boolean
  prepareMs: number
  /** Redis commands per callback, by name (when the tool uses the bench's Redis). */
  redisCommandsPerRequest?: Record<string, number>
}

interface Pair { browser: BenchBrowser, state: string, token: string }

async function preparePairs (target: ValidationTarget, platform: BenchPlatform, count: number, router: Router): Promise<Pair[]> {
  const pairs: Pair[] = []
  const logins: Array<{ browser: BenchBrowser, state: string, nonce: string, user: number }> = []
  let loginFailures = 0
  let firstFailure = ''
  await runPool({
    count,
    concurrency: 8,
    timeCapMs: 120000,
    job: async (index) => {
      const browser = new BenchBrowser(router)
      const user = 100000 + index
      const url = new URL(target.loginUrl)
      url.search = new URLSearchParams({
        iss: platform.issuer,
        login_hint: `bench-user-${user}`,
        target_link_uri: target.targetLinkUri,
        client_id: platform.clientId,
        lti_deployment_id: platform.deploymentId
      }).toString()
      const reply = await browser.get(url.toString())
      const location = reply.location ? new URL(reply.location) : undefined
      const state = location?.searchParams.get('state')
      const nonce = location?.searchParams.get('nonce')
      if (!state || !nonce || reply.status >= 400) {
        loginFailures++
        firstFailure ||= `${reply.status} ${reply.body.slice(0, 300)}`
        return
      }
      logins.push({ browser, state, nonce, user })
    }
  })
  if (loginFailures > 0) {
    throw new Error(`${target.name}: ${loginFailures} of ${count} login requests failed; first: ${firstFailure}`)
  }
  for (const login of logins) {
    const token = await signPayload(platform.key, launchPayload({
      issuer: platform.issuer,
      clientId: platform.clientId,
      deploymentId: platform.deploymentId,
      nonce: login.nonce,
      targetLinkUri: target.targetLinkUri,
      user: login.user
    }))
    pairs.push({ browser: login.browser, state: login.state, token })
  }
  return pairs
}

/** The pairs posted untimed before `count` measured ones: a quarter more. */
export const untimedPairs = (count: number): number => Math.ceil(count / 4)

export async function measureCallback (options: {
  target: ValidationTarget
  platform: BenchPlatform
  count: number
  concurrency: number
  timeCapMs: number
  router?: Router
  redis?: Redis
}): Promise<ValidationResult> {
  const router = options.router ?? new Router()
  const t0 = performance.now()
  // A quarter more pairs, posted before the clock starts: the callback's code
  // is compiled by V8's optimizer (and caches filled) in every tool alike.
  const warmCount = untimedPairs(options.count)
  const allPairs = await preparePairs(options.target, options.platform, options.count + warmCount, router)
  const prepareMs = performance.now() - t0
  const warm = allPairs.slice(0, warmCount)
  const pairs = allPairs.slice(warmCount)
  await runPool({
    count: warm.length,
    concurrency: options.concurrency,
    timeCapMs: options.timeCapMs,
    job: async (index) => {
      const pair = warm[index] as Pair
      await pair.browser.post(options.target.callbackUrl, { id_token: pair.token, state: pair.state }).catch(() => {})
    }
  })
  const latencies: number[] = []
  const failures: Record<string, number> = {}
  let ok = 0
  let samples = 0
  const redisBefore = options.redis ? await commandStats(options.redis) : undefined
  const cpuBefore = options.target.pids.map(cpuMs)
  const run = await runPool({
    count: pairs.length,
    concurrency: options.concurrency,
    timeCapMs: options.timeCapMs,
    job: async (index) => {
      const pair = pairs[index] as Pair
      const start = performance.now()
      try {
        const reply = await pair.browser.post(options.target.callbackUrl, { id_token: pair.token, state: pair.state })
        latencies.push(performance.now() - start)
        if (reply.status === 302 || reply.status === 303) {
          ok++
        } else {
          const code = /"code"\s*:\s*"([^"]+)"/.exec(reply.body)?.[1] ?? /<title>([^<]*)<\/title>/i.exec(reply.body)?.[1] ?? ''
          const key = `${reply.status} ${code}`.trim()
          failures[key] = (failures[key] ?? 0) + 1
          if (samples++ < 3) process.stderr.write(`  ! ${options.target.name} callback ${reply.status}: ${reply.body.slice(0, 400).replace(/\s+/g, ' ')}\n`)
        }
      } catch (err) {
        const key = `error ${(err as Error).message}`
        failures[key] = (failures[key] ?? 0) + 1
      }
    }
  })
  const cpuAfter = options.target.pids.map(cpuMs)
  const redisAfter = options.redis ? await commandStats(options.redis) : undefined
  const cpuUsed = cpuAfter.reduce((sum, value, i) => sum + value - (cpuBefore[i] ?? 0), 0)
  const requests = Math.min(run.started, pairs.length)
  const failed = requests - ok
  return {
    target: options.target.name,
    requests,
    ok,
    failed,
    failures,
    concurrency: options.concurrency,
    elapsedMs: run.elapsedMs,
    perSecond: (ok * 1000) / run.elapsedMs,
    latency: summarize(latencies),
    cpuMsPerCallback: requests ? cpuUsed / requests : Number.NaN,
    timedOut: run.timedOut,
    prepareMs,
    ...(redisBefore && redisAfter
      ? { redisCommandsPerRequest: Object.fromEntries(Object.entries(diffStats(redisBefore, redisAfter, 1)).sort((a, b) => b[1] - a[1]).map(([name, calls]) => [name, calls / Math.max(1, requests)])) }
      : {})
  }
}
