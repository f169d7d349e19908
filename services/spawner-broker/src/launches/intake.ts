import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { serverNameFor, type PendingLaunchRequest } from '@ltilaunch/claims'
import type { FastifyInstance } from 'fastify'
import { IdempotencyConflict, ImageNotAllowed, QueueUnavailable } from '../errors.js'
import { ImageRefusal } from '../policy/image-policy.js'
import { addProgress, type StoredLaunch } from './records.js'

interface IdempotencyRecord {
  id: string
  hash: string
}

/** JSON with sorted keys, so that the same body always hashes the same. */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex')

/** An unguessable launch id: it is the capability of the browser's progress page. */
export function newLaunchId (): string {
  return randomBytes(18).toString('base64url')
}

const queuedKey = (launch: StoredLaunch): string => `queued:${launch.id}:${launch.attempt}`

/**
 * Accepts a launch: resolves its image against the policy, records it as
 * pending and queues it, once per idempotency key. The same key with the
 * same body returns the same launch; with another body, a conflict.
 */
export async function acceptLaunch (
  fastify: FastifyInstance,
  body: PendingLaunchRequest,
  idempotencyKey: string
): Promise<{ launch: StoredLaunch, created: boolean }> {
  let resolved
  try {
    resolved = fastify.imagePolicy.resolve(body.image, body.role)
  } catch (err) {
    if (err instanceof ImageRefusal) throw new ImageNotAllowed(err.message)
    throw err
  }

  const { store, launches, config } = fastify
  const hash = sha256(canonicalJson(body))
  const idemKey = `idem:${sha256(idempotencyKey)}`
  const id = newLaunchId()
  const idem: IdempotencyRecord = { id, hash }
  const launch = newLaunch(fastify, id, body, resolved)
  // The key and the record travel together: the record's id is fresh and
  // random, so until the key names it no one can find it. Each write is
  // checked on its own; a batch that fails halfway answers 503, and the
  // repeated request finishes the launch (repeatedLaunch).
  const [keyIsNew, recordIsNew] = await store.batch([
    { op: 'putNew', key: idemKey, value: idem, ttlSeconds: config.LAUNCH_TTL },
    launches.createOperation(launch)
  ])
  if (keyIsNew !== true) {
    // The key is taken: the record just written under the fresh id is no one's.
    const [, prior] = await store.batch([launches.deleteOperation(id), { op: 'get', key: idemKey }]) as [boolean, IdempotencyRecord | undefined]
    if (prior !== undefined) {
      if (prior.hash !== hash) throw new IdempotencyConflict()
      return { launch: await repeatedLaunch(fastify, prior.id, body, resolved), created: false }
    }
    // The key expired between the two calls: this is a new launch after all.
    await store.batch([
      { op: 'set', key: idemKey, value: idem, ttlSeconds: config.LAUNCH_TTL },
      launches.createOperation(launch)
    ])
  } else if (recordIsNew !== true) {
    throw new Error('a fresh launch id was taken') // random ids never collide
  }
  await enqueue(fastify, launch)
  fastify.log.info({ launch: id, user: launch.username, role: launch.role, image: launch.image }, 'launch accepted')
  return { launch, created: true }
}

/** The launch of a repeated request; finishes what an interrupted first request left undone. */
async function repeatedLaunch (
  fastify: FastifyInstance,
  id: string,
  body: PendingLaunchRequest,
  resolved: { image: string, alias?: string }
): Promise<StoredLaunch> {
  let launch = await fastify.launches.get(id)
  // The first request may be writing it right now.
  for (let i = 0; launch === undefined && i < 10; i++) {
    await sleep(100)
    launch = await fastify.launches.get(id)
  }
  if (launch === undefined) {
    const fresh = newLaunch(fastify, id, body, resolved)
    if (await fastify.launches.create(fresh)) {
      await enqueue(fastify, fresh)
      return fresh
    }
    launch = await fastify.launches.get(id) ?? fresh
  }
  // The first request recorded it but may not have reached the queue (Redis went away).
  if (launch.status === 'pending' && (await fastify.store.get(queuedKey(launch))) === undefined) {
    await enqueue(fastify, launch)
  }
  return launch
}

function newLaunch (fastify: FastifyInstance, id: string, body: PendingLaunchRequest, resolved: { image: string, alias?: string }): StoredLaunch {
  const now = new Date()
  const { claims: _claims, ...request } = body
  const launch: StoredLaunch = {
    id,
    status: 'pending',
    username: body.username,
    role: body.role,
    image: resolved.image,
    serverName: serverNameFor(body.course, fastify.config.HUB_NAMED_SERVERS, body.namespace),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    progress: [],
    request,
    attempt: 1,
    deliveries: 0,
    driver: fastify.config.SPAWN_DRIVER,
    createdMs: now.getTime()
  }
  if (body.course) launch.course = body.course
  if (resolved.alias) launch.alias = resolved.alias
  addProgress(launch, 'Waiting for a broker to start your server', 0)
  return launch
}

/**
 * Puts the launch's current attempt on the queue and notes that it did. A
 * second entry for one attempt is harmless: its worker finds the launch
 * leased or finished and drops it.
 */
export async function enqueue (fastify: FastifyInstance, launch: StoredLaunch): Promise<void> {
  try {
    await fastify.workQueue.enqueue({ launchId: launch.id, attempt: launch.attempt })
  } catch (err) {
    throw new QueueUnavailable((err as Error).message)
  }
  // Only after XADD has succeeded (it runs on the queue's own connection, so
  // it cannot share a pipeline with this write): a marker written first, or
  // alongside, would outlive a failed XADD, and a repeated request would then
  // trust it and leave the launch pending with nothing queued. Missing after
  // a successful XADD, it costs no more than a second, harmless entry.
  await fastify.store.set(queuedKey(launch), 1, fastify.config.LAUNCH_TTL)
}

/** Where a launch is seen: the browser's page and the program's record. */
export function launchUrls (base: string, id: string): { progressUrl: string, statusUrl: string } {
  const root = base.replace(/\/+$/, '')
  return { progressUrl: `${root}/launches/${id}`, statusUrl: `${root}/v1/launches/${id}` }
}
