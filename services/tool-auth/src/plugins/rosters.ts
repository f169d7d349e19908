import fp from 'fastify-plugin'
import type { Platform } from '../config.js'
import { RosterCourseUnknown, RosterSyncBusy, RosterSyncOff } from '../errors.js'
import type { LaunchServices } from '../lib/launch-services.js'
import { courseKey, emptyOutcome, syncCourse, type RosterCourse, type RosterOutcome, type RosterTrigger } from '../lib/rosters/sync.js'

export interface Rosters {
  /** Whether this platform's rosters are synced: its roster_sync, else ROSTER_SYNC (and a broker to apply them). */
  enabledFor: (platform: Platform) => boolean
  /**
   * After an accepted launch whose services are kept (lib/launch-services.ts):
   * on a staff launch in a course with an NRPS endpoint, syncs the course.
   * In the background: it never delays or fails the launch.
   */
  afterLaunch: (platform: Platform, services: LaunchServices | undefined) => void
  /**
   * Syncs a course now and returns the outcome (which is also stored and
   * logged). Throws TOOL_AUTH_ROSTER_SYNC_OFF, TOOL_AUTH_ROSTER_COURSE_UNKNOWN,
   * or TOOL_AUTH_ROSTER_SYNC_BUSY when a sync runs or ran less than
   * ROSTER_SYNC_INTERVAL ago (`force` skips the interval, never the lock).
   */
  sync: (issuer: string, contextId: string, trigger: RosterTrigger, options?: { force?: boolean }) => Promise<RosterOutcome>
  /**
   * Starts a sync in the background once the course's lock is taken (the
   * same refusals as `sync`, before it returns); the outcome is stored.
   */
  start: (issuer: string, contextId: string, trigger: RosterTrigger) => Promise<void>
  /** The outcome of the course's last sync. */
  outcome: (issuer: string, contextId: string) => Promise<RosterOutcome | undefined>
  /** Where the course's roster is, as the latest launch with an NRPS claim said. */
  course: (issuer: string, contextId: string) => Promise<RosterCourse | undefined>
  /** Resolves when the background work begun so far has ended (shutdown, tests). */
  settled: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    rosters: Rosters
  }
}

/** An outcome is readable for a month. */
const OUTCOME_TTL = 30 * 86400

const keys = (issuer: string, contextId: string) => {
  const id = courseKey(issuer, contextId)
  return { running: `roster:running:${id}`, recent: `roster:recent:${id}`, outcome: `roster:outcome:${id}` }
}

/** Course rosters read with NRPS and applied to the hub by the broker; one sync per course at a time. */
export default fp(async function rostersPlugin (fastify) {
  const { config, store, log } = fastify
  const closing = new AbortController()
  const inFlight = new Set<Promise<unknown>>()
  fastify.addHook('onClose', async () => {
    closing.abort()
    await Promise.allSettled([...inFlight])
  })

  const enabledFor = (platform: Platform): boolean => fastify.broker.configured && (platform.rosterSync ?? config.ROSTER_SYNC)

  /** Takes the course's lock, and its interval unless forced; throws TOOL_AUTH_ROSTER_SYNC_BUSY. */
  async function acquire (k: ReturnType<typeof keys>, force: boolean): Promise<void> {
    const now = Date.now()
    if (!await store.putNew(k.running, now, config.ROSTER_SYNC_TIMEOUT)) {
      throw Object.assign(new RosterSyncBusy('is being synced now', 30), { retryAfter: 30 })
    }
    if (force) {
      await store.set(k.recent, now, config.ROSTER_SYNC_INTERVAL)
      return
    }
    if (!await store.putNew(k.recent, now, config.ROSTER_SYNC_INTERVAL)) {
      const began = await store.get<number>(k.recent) ?? now
      await store.delete(k.running)
      const wait = Math.max(1, Math.ceil(config.ROSTER_SYNC_INTERVAL - (now - began) / 1000))
      throw Object.assign(new RosterSyncBusy(`was synced less than ${config.ROSTER_SYNC_INTERVAL} seconds ago (ROSTER_SYNC_INTERVAL)`, wait), { retryAfter: wait })
    }
  }

  /** Checks the platform and takes the course's lock; returns the sync to run. */
  async function prepare (course: RosterCourse, trigger: RosterTrigger, force: boolean): Promise<() => Promise<RosterOutcome>> {
    const platform = await fastify.platforms.get(course.issuer)
    if (!enabledFor(platform)) throw new RosterSyncOff(platform.issuer)
    const k = keys(course.issuer, course.contextId)
    await acquire(k, force)
    return async () => await execute(course, trigger, platform, k)
  }

  async function run (course: RosterCourse, trigger: RosterTrigger, force: boolean): Promise<RosterOutcome> {
    return await (await prepare(course, trigger, force))()
  }

  async function execute (course: RosterCourse, trigger: RosterTrigger, platform: Platform, k: ReturnType<typeof keys>): Promise<RosterOutcome> {
    const outcome = emptyOutcome(course, trigger)
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(config.ROSTER_SYNC_TIMEOUT * 1000)])
    try {
      await syncCourse(course, {
        config,
        store,
        platform,
        tokens: fastify.platformTokens,
        applyRoster: fastify.broker.applyRoster,
        signal
      }, outcome)
      outcome.ok = true
    } catch (err) {
      const error = err as Error & { code?: string }
      outcome.error = {
        code: typeof error.code === 'string' && error.code.startsWith('TOOL_AUTH_') ? error.code : 'TOOL_AUTH_ROSTER_FAILED',
        message: error.message
      }
      if (error.code === undefined) log.error({ err }, 'roster sync failed')
    } finally {
      outcome.finishedAt = new Date().toISOString()
      try {
        await store.batch([
          { op: 'set', key: k.outcome, value: outcome, ttlSeconds: OUTCOME_TTL },
          { op: 'delete', key: k.running }
        ])
      } catch (err) {
        log.warn({ reason: (err as Error).message }, 'the roster outcome could not be stored; the lock expires by itself')
      }
    }
    const { taken, ...counts } = outcome
    if (outcome.ok) log.info({ roster: counts }, 'roster synced')
    else log.warn({ roster: counts, taken }, 'roster sync failed')
    return outcome
  }

  async function courseOf (issuer: string, contextId: string): Promise<RosterCourse | undefined> {
    const services = await fastify.launchServices.course(issuer, contextId)
    if (services?.nrps === undefined) return undefined
    return {
      issuer: services.issuer,
      clientId: services.clientId,
      deploymentId: services.deploymentId,
      contextId: services.contextId,
      membershipsUrl: services.nrps.contextMembershipsUrl
    }
  }

  async function knownCourse (issuer: string, contextId: string): Promise<RosterCourse> {
    const platform = await fastify.platforms.get(issuer)
    if (!enabledFor(platform)) throw new RosterSyncOff(platform.issuer)
    const course = await courseOf(issuer, contextId)
    if (course === undefined) throw new RosterCourseUnknown()
    return course
  }

  function background (work: () => Promise<unknown>): void {
    const task = work().catch((err: Error & { code?: string }) => {
      if (err.code === 'TOOL_AUTH_ROSTER_SYNC_BUSY') log.debug({ reason: err.message }, 'roster sync skipped')
      else log.warn({ code: err.code, reason: err.message }, 'roster sync not started')
    }).finally(() => inFlight.delete(task))
    inFlight.add(task)
  }

  fastify.decorate('rosters', {
    enabledFor,
    afterLaunch (platform, services) {
      if (services?.nrps === undefined || services.role !== 'staff' || !enabledFor(platform) || closing.signal.aborted) return
      const course: RosterCourse = {
        issuer: services.issuer,
        clientId: services.clientId,
        deploymentId: services.deploymentId,
        contextId: services.contextId,
        membershipsUrl: services.nrps.contextMembershipsUrl
      }
      background(async () => await run(course, 'launch', false))
    },
    async sync (issuer, contextId, trigger, syncOptions = {}) {
      return await run(await knownCourse(issuer, contextId), trigger, syncOptions.force === true)
    },
    async start (issuer, contextId, trigger) {
      const sync = await prepare(await knownCourse(issuer, contextId), trigger, false)
      background(sync)
    },
    async outcome (issuer, contextId) {
      return await store.get<RosterOutcome>(keys(issuer, contextId).outcome)
    },
    course: courseOf,
    async settled () {
      await Promise.allSettled([...inFlight])
    }
  })
}, { name: 'tool-auth-rosters', dependencies: ['tool-auth-platforms', 'tool-auth-broker', 'tool-auth-platform-services'] })
