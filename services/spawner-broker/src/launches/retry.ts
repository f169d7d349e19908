import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { RetryNotAllowed } from '../errors.js'
import { enqueue } from './intake.js'
import { addProgress, type StoredLaunch } from './records.js'

/**
 * The token of a launch's "try again" form: bound to the launch and its
 * attempt, so a form only works from the page that showed it, and once.
 */
export function retryToken (secret: string, launch: Pick<StoredLaunch, 'id' | 'attempt'>): string {
  return createHmac('sha256', secret).update(`retry:${launch.id}:${launch.attempt}`).digest('base64url')
}

export function retryTokenValid (secret: string, launch: Pick<StoredLaunch, 'id' | 'attempt'>, token: string): boolean {
  const expected = Buffer.from(retryToken(secret, launch))
  const given = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * Queues a failed launch again as its next attempt. Of two concurrent
 * retries of one attempt, one queues it; the other finds it done.
 */
export async function retryLaunch (fastify: FastifyInstance, launch: StoredLaunch): Promise<StoredLaunch> {
  if (launch.status !== 'failed') {
    throw new RetryNotAllowed(`Only a failed launch can be tried again; this one is ${launch.status}.`)
  }
  if (!(await fastify.store.claim(`retry:${launch.id}:${launch.attempt}`, fastify.config.LAUNCH_TTL))) {
    return await fastify.launches.get(launch.id) ?? launch
  }
  launch.attempt += 1
  launch.deliveries = 0
  launch.status = 'pending'
  delete launch.reason
  // The progress bar counts this attempt's steps only.
  launch.attemptStartedAt = addProgress(launch, 'Trying again', 0).at
  await fastify.launches.save(launch)
  try {
    await enqueue(fastify, launch)
  } catch (err) {
    // Not left pending with nothing queued: failed again, with a fresh try-again form.
    launch.status = 'failed'
    launch.reason = 'The launch could not be queued again (the queue is not answering). Try again in a moment.'
    await fastify.launches.save(launch).catch(() => {})
    throw err
  }
  fastify.log.info({ launch: launch.id, attempt: launch.attempt }, 'launch queued again')
  return launch
}
