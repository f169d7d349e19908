import { setTimeout as sleep } from 'node:timers/promises'
import type { BrokerConfig } from '../config.js'
import type { StoredLaunch } from '../launches/records.js'
import type { SpawnContext, SpawnDriver, SpawnResult } from './driver.js'
import { courseGroupName } from '@ltilaunch/claims'
import { UserOptionsForm } from './user-options.js'

/**
 * Starts nothing: records what the jupyterhub driver would have done, so a
 * newcomer sees the whole flow work on a fresh machine without a hub.
 */
export class DryRunDriver implements SpawnDriver {
  readonly name = 'dry-run'
  readonly #config: BrokerConfig
  readonly #form: UserOptionsForm
  readonly #stepMs: number

  constructor (config: BrokerConfig, options: { stepMs?: number } = {}) {
    this.#config = config
    this.#form = new UserOptionsForm(config)
    this.#stepMs = options.stepMs ?? config.DRY_RUN_STEP_MS
  }

  async spawn (launch: StoredLaunch, context: SpawnContext): Promise<SpawnResult> {
    // Only what the jupyterhub driver would change: groups and the admin flag when syncing is on.
    const groups: string[] = []
    if (this.#config.HUB_SYNC_GROUPS) {
      groups.push(launch.role === 'staff' ? this.#config.HUB_STAFF_GROUP : this.#config.HUB_LEARNER_GROUP)
      if (this.#config.HUB_COURSE_GROUPS && launch.course) groups.push(courseGroupName(launch.course, launch.request.namespace))
    }
    const userOptions = this.#form.build(launch.image)
    const server = launch.serverName ? `server ${launch.serverName}` : 'the default server'
    const steps: Array<[string, number]> = [
      [`Dry run: would make sure the hub user ${launch.username} exists`, 20],
      [`Dry run: would start ${server} with ${launch.image}`, 60],
      ['Dry run: nothing was started (no hub is configured)', 100]
    ]
    for (const [message, percent] of steps) {
      // DRY_RUN_STEP_MS=0: no pause at all (not a timer's millisecond), so the messages come as one burst.
      if (this.#stepMs > 0) await sleep(this.#stepMs, undefined, { signal: context.signal })
      else context.signal.throwIfAborted()
      await context.progress(message, percent)
    }
    return {
      serverName: launch.serverName,
      dryRun: {
        user: launch.username,
        role: launch.role,
        admin: this.#config.HUB_SYNC_ADMIN && launch.request.isAdmin,
        groups,
        ...(launch.course ? { course: launch.course.title ?? launch.course.label ?? launch.course.id } : {}),
        image: launch.image,
        serverName: launch.serverName,
        userOptions
      }
    }
  }
}
