/**
 * Launches under a Redis failover, for e2e 21 (Cluster) and 22 (Sentinel):
 * a few users launch one after another through the real stack (the
 * platform's launch API, then a browser without scripts through the
 * platform, tool-auth and the broker's progress page); once some launches
 * are in flight the topology's master is killed and its replica promoted;
 * the users go on until a little after. What each browser saw is kept, and
 * every launch the services accepted (the browser reached the broker's
 * progress page) is followed to its end at the broker.
 */
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { BrowserClient, describeSteps, type Page } from '../harness/browser-client.js'
import type { Failover, RedisTopology } from '../harness/redis-topologies.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { CLIENT_ID, IMAGES, planStack, shownErrorCode, startStack, type BrokerLaunchRecord, type Stack } from './stack.js'

/** What one browser saw at the end of its launch. */
export type Seen = 'ready' | 'failed' | 'error-page' | 'network-error'

export interface LaunchOutcome {
  n: number
  user: string
  /** When the launch began and ended, ms from the kill (negative: before it). */
  fromKillMs: number
  toKillMs: number
  seen: Seen
  /** The last page's status and the error code it showed, if any. */
  status: number
  code?: string
  /** Where the last page was (origin and path, no id). */
  at: string
  /** The broker's launch id, when the browser reached its progress page: the launch was accepted. */
  launchId?: string
  /** Error pages the browser met on its way and reloaded past (503 with Retry-After on the progress page). */
  reloaded: string[]
  /** When the browser last met an error (its end, or a page it reloaded past), ms from the kill. */
  lastErrorMs?: number
  /** The broker's record at the end. */
  final?: BrokerLaunchRecord['status'] | 'missing'
  steps: string
}

export interface FailoverRun {
  failover: Failover
  outcomes: LaunchOutcome[]
  /** Launches accepted by the services, and of those, how many reached ready, failed (with a retry) or neither. */
  accepted: number
  ready: number
  failed: number
  lost: number
  /** The last moment any browser met an error, ms after the kill: how long the services were unavailable. */
  lastErrorMs: number | undefined
}

interface LoadOptions {
  stack: Stack
  topology: RedisTopology
  apiKey: string
  /** The key whose master is killed (Cluster); the primary under Sentinel. */
  killKey?: string
  users?: number
  /** How many launches are accepted before the kill. */
  acceptedBeforeKill?: number
  /** A planned switchover instead of a kill. */
  planned?: boolean
  /** How long the users keep launching after the failover. */
  afterMs?: number
  log: (line: string) => void
}

const DRY_RUN_READY = 'Dry run: your server would start now'
const FAILED = 'Your server could not be started'

function where (url: string): string {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname.replace(/\/launches\/[^/]+/, '/launches/:id')}`
}

function classify (page: Page): Pick<LaunchOutcome, 'seen' | 'status' | 'code' | 'at'> {
  const code = shownErrorCode(page.body)
  const seen: Seen = page.status === 200 && page.body.includes(DRY_RUN_READY)
    ? 'ready'
    : page.status === 200 && page.body.includes(FAILED) ? 'failed' : 'error-page'
  return { seen, status: page.status, ...(code ? { code } : {}), at: where(page.url) }
}

/** One user's launch, from the host site's API call to the last page, reloading a progress page that answered 503. */
async function launchOnce (options: LoadOptions, n: number, user: string, killedAt: () => number, onAccepted: () => void): Promise<LaunchOutcome> {
  const { stack, apiKey } = options
  const started = Date.now()
  let lastErrorMs: number | undefined
  const outcome = (rest: Omit<LaunchOutcome, 'n' | 'user' | 'fromKillMs' | 'toKillMs'>): LaunchOutcome => {
    if (rest.seen === 'error-page' || rest.seen === 'network-error') lastErrorMs = Date.now() - killedAt()
    return { n, user, fromKillMs: started - killedAt(), toKillMs: Date.now() - killedAt(), ...rest, ...(lastErrorMs === undefined ? {} : { lastErrorMs }) }
  }
  let created: Response
  try {
    created = await fetch(`${stack.plan.platformUrl}/api/v1/launches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        user: { id: user, email: `${user}@example.org`, name: user, roles: ['Learner'] },
        client_id: CLIENT_ID,
        context: { id: 'ha101', label: 'HA101', title: 'Failover 101' },
        resource_link: { id: 'failover-link' },
        custom: { image: IMAGES.scipy }
      }),
      signal: AbortSignal.timeout(10_000)
    })
  } catch (err) {
    return outcome({ seen: 'network-error', status: 0, at: `${stack.plan.platformUrl}/api/v1/launches`, reloaded: [], steps: (err as Error).message })
  }
  const body = await created.json().catch(() => ({})) as { launchUrl?: string, code?: string }
  if (created.status !== 201 || body.launchUrl === undefined) {
    return outcome({ seen: 'error-page', status: created.status, ...(body.code ? { code: body.code } : {}), at: `${stack.plan.platformUrl}/api/v1/launches`, reloaded: [], steps: '' })
  }
  const client = new BrowserClient({ timeoutMs: 15_000 })
  const reloaded: string[] = []
  const steps: string[] = []
  let url = body.launchUrl
  let launchId: string | undefined
  for (let visit = 0; ; visit++) {
    let page: Page
    try {
      const result = await client.followLaunch(url, {
        refresh: true,
        maxRefreshWaitMs: 500,
        maxSteps: 400,
        onStep: (step) => {
          if (launchId !== undefined || !step.url.startsWith(`${stack.plan.brokerUrl}/launches/`)) return
          launchId = new URL(step.url).pathname.split('/')[2]
          onAccepted()
        }
      })
      page = result.page
      steps.push(describeSteps(result.steps))
    } catch (err) {
      return outcome({ seen: 'network-error', status: 0, at: where(url), ...(launchId ? { launchId } : {}), reloaded, steps: `${steps.join('\n')}\n${(err as Error).message}` })
    }
    const seen = classify(page)
    // A person on the progress page reloads it when it says to try again in a moment; anywhere else they start over.
    const onProgress = launchId !== undefined && page.url.startsWith(`${stack.plan.brokerUrl}/launches/`)
    if (seen.seen === 'error-page' && page.status === 503 && onProgress && visit < 20) {
      reloaded.push(`${seen.status} ${seen.code ?? ''} at ${seen.at}`)
      lastErrorMs = Date.now() - killedAt()
      await sleep(1000)
      url = `${stack.plan.brokerUrl}/launches/${launchId as string}`
      continue
    }
    return outcome({ ...seen, ...(launchId ? { launchId } : {}), reloaded, steps: steps.join('\n') })
  }
}

/** Follows an accepted launch at the broker until it is ready or failed (or the time is up). */
async function settle (stack: Stack, id: string, timeoutMs: number): Promise<LaunchOutcome['final']> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const record = await stack.brokerLaunch(id)
      if (record.status === 'ready' || record.status === 'failed' || Date.now() > deadline) return record.status
    } catch (err) {
      if (/: 404 /.test((err as Error).message)) return 'missing'
      if (Date.now() > deadline) throw err
    }
    await sleep(250)
  }
}

export async function launchesThroughFailover (options: LoadOptions): Promise<FailoverRun> {
  const users = options.users ?? 4
  const outcomes: LaunchOutcome[] = []
  let killedAt = Number.POSITIVE_INFINITY
  let stopAt = Number.POSITIVE_INFINITY
  let accepted = 0
  let n = 0
  const sinceKill = (): number => Number.isFinite(killedAt) ? killedAt : Date.now()
  const user = async (u: number): Promise<void> => {
    while (Date.now() < stopAt) {
      const outcome = await launchOnce(options, n++, `ha-user-${u}`, sinceKill, () => { accepted++ })
      outcomes.push(outcome)
      // Told to try again: a person (or a host site that honours Retry-After) waits a moment first.
      if (outcome.seen === 'error-page' || outcome.seen === 'network-error') await sleep(1000)
    }
  }
  const running = Array.from({ length: users }, async (_, u) => { await user(u) })
  const acceptedBeforeKill = options.acceptedBeforeKill ?? 6
  const deadline = Date.now() + 60_000
  for (;;) {
    if (accepted >= acceptedBeforeKill) break
    if (Date.now() > deadline) throw new Error(`only ${accepted} launches accepted in a minute before the kill:\n${JSON.stringify(outcomes, null, 2)}`)
    await sleep(50)
  }
  options.log(`${options.planned === true ? 'switching over' : 'killing'} the master: ${accepted} launches accepted, ${outcomes.length} finished, ${users} users launching`)
  killedAt = Date.now()
  const failover = options.planned === true ? await options.topology.switchover(options.killKey) : await options.topology.failover(options.killKey)
  options.log(`${failover.killed.name} ${options.planned === true ? 'switched over' : 'killed'}; ${failover.promoted.name} promoted after ${failover.ms} ms`)
  stopAt = Date.now() + (options.afterMs ?? 3000)
  await Promise.all(running)

  for (const outcome of outcomes) {
    if (outcome.launchId !== undefined) outcome.final = await settle(options.stack, outcome.launchId, 60_000)
  }
  const taken = outcomes.filter((o) => o.launchId !== undefined)
  const run: FailoverRun = {
    failover,
    outcomes,
    accepted: taken.length,
    ready: taken.filter((o) => o.final === 'ready').length,
    failed: taken.filter((o) => o.final === 'failed').length,
    lost: taken.filter((o) => o.final !== 'ready' && o.final !== 'failed').length,
    lastErrorMs: outcomes.reduce<number | undefined>((last, o) => o.lastErrorMs === undefined ? last : Math.max(last ?? o.lastErrorMs, o.lastErrorMs), undefined)
  }
  writeFileSync(path.join(options.stack.plan.workDir, 'failover.json'), JSON.stringify({ ...run, failover: { killed: failover.killed.name, promoted: failover.promoted.name, ms: failover.ms } }, null, 2))
  return run
}

/** One line per kind of outcome: what the browsers saw, for the report. */
export function summarize (run: FailoverRun): string[] {
  const counts = new Map<string, number>()
  for (const o of run.outcomes) {
    const key = `${o.seen}${o.code ? ` ${o.code}` : ''} (${o.status} at ${o.at})${o.reloaded.length > 0 ? ' after reloading past a 503' : ''}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [
    `failover: ${run.failover.killed.name} out, ${run.failover.promoted.name} serving after ${run.failover.ms} ms`,
    `${run.outcomes.length} launches, ${run.accepted} accepted by the services: ${run.ready} ready, ${run.failed} failed with a retry, ${run.lost} lost`,
    run.lastErrorMs === undefined ? 'no browser met an error' : `the last error a browser met came ${run.lastErrorMs} ms after the kill`,
    ...[...counts].map(([key, count]) => `${count} x ${key}`)
  ]
}

/**
 * The scenario of e2e 21 and 22 on a topology: the stack on it, one launch
 * in a browser (sign-in, launch form, tool-auth, the broker's progress page
 * to its end), then the launches through a failover.
 */
export async function topologyScenario (t: Test, name: string, topology: RedisTopology): Promise<void> {
  const apiKey = randomBytes(24).toString('hex')
  const plan = await planStack(name)
  const stack = await startStack(t, plan, {
    redis: topology.settings,
    env: {
      platform: { PLATFORM_API_KEYS: `sha256:${createHash('sha256').update(apiKey).digest('hex')}` },
      // Spawns long enough to be in flight at the kill; a stalled worker's launch is taken up again after 3 s.
      broker: { DRY_RUN_STEP_MS: '400', QUEUE_CLAIM_IDLE_MS: '3000' }
    }
  })

  await t.test(`a launch in a browser through the three services on ${topology.kind}`, async (t) => {
    const launch = await launchThroughStack(stack, 'ada', { course: 'ds101', image: IMAGES.scipy })
    if (launch.page.status !== 200) t.fail(`the launch ended on a ${launch.page.status}:\n${stepsOf(launch)}`)
    t.match(launch.page.body, DRY_RUN_READY, 'the broker\'s page says the server would start now')
    t.ok(launch.launchId, 'through the broker\'s progress page')
    const record = await stack.brokerLaunch(launch.launchId as string)
    t.equal(record.status, 'ready')
    t.equal(record.image, IMAGES.scipy)
  })

  await t.test(`launches in flight while the ${topology.kind === 'cluster' ? 'master holding the launch queue' : 'primary'} is killed: none accepted is lost`, async (t) => {
    const run = await launchesThroughFailover({
      stack,
      topology,
      apiKey,
      // The broker's stream: the queue's master is the one whose loss matters most.
      killKey: `${plan.redisPrefix}spawner-broker:launches`,
      log: (line) => t.comment(line)
    })
    for (const line of summarize(run)) t.comment(line)
    t.ok(run.accepted >= 6, `launches were accepted (${run.accepted})`)
    t.ok(run.outcomes.some((o) => o.fromKillMs < 0 && o.toKillMs > 0 && o.launchId !== undefined), 'some accepted launches were in flight at the kill')
    t.ok(run.outcomes.some((o) => o.fromKillMs > run.failover.ms && o.seen === 'ready'), 'launches begun after the promotion are served')
    t.equal(run.lost, 0, 'every accepted launch reached ready or failed')
    const stuck = run.outcomes.filter((o) => o.launchId !== undefined && o.final !== 'ready' && o.final !== 'failed')
    t.same(stuck.map((o) => `${o.n}: ${o.final ?? 'unknown'}`), [], 'no accepted launch left without an end')
    // What a person sees is an outcome they can act on: their server, a failed launch with its retry button, or an error page with a code.
    const blank = run.outcomes.filter((o) => o.seen === 'network-error' || (o.seen === 'error-page' && (o.code === undefined || (o.status >= 500 && o.status !== 503))))
    t.same(blank.map((o) => `${o.n}: ${o.seen} ${o.status} at ${o.at}\n${o.steps}`), [], 'no browser met a dead connection, a 500 or a page without an error code')
    const disagree = run.outcomes.filter((o) => o.launchId !== undefined && (o.seen === 'ready' || o.seen === 'failed') && o.final !== o.seen)
    t.same(disagree.map((o) => `${o.n}: browser ${o.seen}, broker ${o.final ?? 'unknown'}`), [], 'the browser saw what the broker recorded')
  })

  // Switched back (the promoted replica hands over again): maintenance, nothing killed.
  await t.test(`launches in flight through a planned switchover on ${topology.kind}: none accepted is lost`, async (t) => {
    const run = await launchesThroughFailover({
      stack,
      topology,
      apiKey,
      killKey: `${plan.redisPrefix}spawner-broker:launches`,
      planned: true,
      acceptedBeforeKill: 3,
      log: (line) => t.comment(line)
    })
    for (const line of summarize(run)) t.comment(line)
    t.equal(run.lost, 0, 'every accepted launch reached ready or failed')
    const blank = run.outcomes.filter((o) => o.seen === 'network-error' || (o.seen === 'error-page' && (o.code === undefined || (o.status >= 500 && o.status !== 503))))
    t.same(blank.map((o) => `${o.n}: ${o.seen} ${o.status} at ${o.at}\n${o.steps}`), [], 'no browser met a dead connection, a 500 or a page without an error code')
  })
}
