import { launchSummary, LTI_CLAIM, type RoleClassification } from '@ltilaunch/claims'
import { isHttpUrl } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import type { Platform } from '../config.js'
import { RosterCourseUnknown, RosterSyncBusy, RosterSyncOff } from '../errors.js'
import { courseKey, emptyOutcome, syncCourse, type PlatformTokenSource, type RosterCourse, type RosterOutcome, type RosterTrigger } from '../lib/rosters/sync.js'

export interface Rosters {
  /** Whether this platform's rosters are synced: its roster_sync, else ROSTER_SYNC (and a broker to apply them). */
  enabledFor: (platform: Platform) => boolean
  /**
   * After an accepted launch: remembers where the course's roster is (the
   * NRPS claim) and, on a staff launch, syncs it. In the background: it
   * never delays or fails the launch.
   */
  afterLaunch: (claims: Record<string, unknown>, platform: Platform, clientId: string, classification: RoleClassification) => void
  /**
   * Syncs a course now and returns the outcome (which is also stored and
   * logged). Throws TOOL_AUTH_ROSTER_SYNC_OFF, TOOL_AUTH_ROSTER_COURSE_UNKNOWN,
   * or TOOL_AUTH_ROSTER_SYNC_BUSY when a sync runs or ran less than
   * ROSTER_SYNC_INTERVAL ago (`force` skips the interval, never the lock).
   */
  sync: (issuer: string, contextId: string, trigger: RosterTrigger, options?: { force?: boolean }) => Promise<RosterOutcome>
  /** The outcome of the course's last sync. */
  outcome: (issuer: string, contextId: string) => Promise<RosterOutcome | undefined>
  /** Where the course's roster is, as its last launch said. */
  course: (issuer: string, contextId: string) => Promise<RosterCourse | undefined>
  /** Resolves when the background work begun so far has ended (shutdown, tests). */
  settled: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    rosters: Rosters
  }
}

export interface RostersPluginOptions {
  /** Platform access tokens (the client-credentials grant). */
  token: PlatformTokenSource
}

/** A course is remembered for as long as launches may come from it. */
const COURSE_TTL = 180 * 86400
/** An outcome is readable for a month. */
const OUTCOME_TTL = 30 * 86400

const keys = (issuer: string, contextId: string) => {
  const id = courseKey(issuer, contextId)
  return { course: `roster:course:${id}`, running: `roster:running:${id}`, recent: `roster:recent:${id}`, outcome: `roster:outcome:${id}` }
}

/** Course rosters read with NRPS and applied to the hub by the broker; one sync per course at a time. */
export default fp<RostersPluginOptions>(async function rostersPlugin (fastify, options) {
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
      throw new RosterSyncBusy('is being synced now', 30)
    }
    if (force) {
      await store.set(k.recent, now, config.ROSTER_SYNC_INTERVAL)
      return
    }
    if (!await store.putNew(k.recent, now, config.ROSTER_SYNC_INTERVAL)) {
      const began = await store.get<number>(k.recent) ?? now
      await store.delete(k.running)
      const wait = Math.max(1, Math.ceil(config.ROSTER_SYNC_INTERVAL - (now - began) / 1000))
      throw new RosterSyncBusy(`was synced less than ${config.ROSTER_SYNC_INTERVAL} seconds ago (ROSTER_SYNC_INTERVAL)`, wait)
    }
  }

  async function run (course: RosterCourse, trigger: RosterTrigger, force: boolean): Promise<RosterOutcome> {
    const platform = await fastify.platforms.get(course.issuer)
    if (!enabledFor(platform)) throw new RosterSyncOff(platform.issuer)
    const k = keys(course.issuer, course.contextId)
    await acquire(k, force)
    const outcome = emptyOutcome(course, trigger)
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(config.ROSTER_SYNC_TIMEOUT * 1000)])
    try {
      await syncCourse(course, {
        config,
        store,
        platform,
        token: options.token,
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
    return await store.get<RosterCourse>(keys(issuer, contextId).course)
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
    afterLaunch (claims, platform, clientId, classification) {
      if (!enabledFor(platform) || closing.signal.aborted) return
      const nrps = claims[LTI_CLAIM.nrps] as Record<string, unknown> | undefined
      const url = nrps?.context_memberships_url
      const contextId = launchSummary(claims).context?.id
      if (typeof url !== 'string' || !isHttpUrl(url) || contextId === undefined || contextId === '') return
      const deploymentId = claims[LTI_CLAIM.deploymentId]
      const course: RosterCourse = {
        issuer: platform.issuer,
        clientId,
        contextId,
        membershipsUrl: url,
        ...(typeof deploymentId === 'string' ? { deploymentId } : {})
      }
      background(async () => {
        await store.set(keys(course.issuer, contextId).course, course, COURSE_TTL)
        if (classification.role === 'staff') await run(course, 'launch', false)
      })
    },
    async sync (issuer, contextId, trigger, syncOptions = {}) {
      const platform = await fastify.platforms.get(issuer)
      if (!enabledFor(platform)) throw new RosterSyncOff(platform.issuer)
      const course = await courseOf(issuer, contextId)
      if (course === undefined) throw new RosterCourseUnknown()
      return await run(course, trigger, syncOptions.force === true)
    },
    async outcome (issuer, contextId) {
      return await store.get<RosterOutcome>(keys(issuer, contextId).outcome)
    },
    course: courseOf,
    async settled () {
      await Promise.allSettled([...inFlight])
    }
  })
}, { name: 'tool-auth-rosters', dependencies: ['tool-auth-platforms', 'tool-auth-broker'] })
