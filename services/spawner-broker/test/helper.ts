import { createRedisClient, createServer, RedisStore } from '@ltilaunch/service-kit'
import { memoryStoreForTest, redisStoreForTest, testRedisUrl } from '@ltilaunch/service-kit/testing'
import type { LaunchRecord, PendingLaunchRequest } from '@ltilaunch/claims'
import fp from 'fastify-plugin'
import type { Test } from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'

export const SERVICE_TOKEN = 'test-broker-token-0123456789abcdef'
export const MINIMAL = 'quay.io/jupyter/minimal-notebook:latest'
export const SCIPY = 'quay.io/jupyter/scipy-notebook:latest'
export const PYTORCH = 'quay.io/jupyter/pytorch-notebook:latest'

/** Settings every test starts from; a test overrides what it is about. */
export const TEST_ENV: Record<string, string> = {
  PORT: '0',
  LOG_LEVEL: 'silent',
  PUBLIC_URL: 'http://broker.test',
  BROKER_SERVICE_TOKEN: SERVICE_TOKEN,
  ALLOWED_IMAGES: `minimal=${MINIMAL},scipy=${SCIPY},pytorch=${PYTORCH}`,
  DEFAULT_IMAGE: MINIMAL,
  DRY_RUN_STEP_MS: '0',
  QUEUE_CLAIM_IDLE_MS: '1000',
  PROGRESS_POLL_MS: '50',
  HUB_RETRY_BASE_MS: '20',
  HUB_REQUEST_TIMEOUT: '2'
}

export interface BuildOptions {
  env?: Record<string, string>
  /** 'redis' (the default: a real Redis under a fresh key prefix, queue included) or 'memory'. */
  store?: 'redis' | 'memory'
  /** Where the service's log lines go (tests of what it logs); by default it logs nothing. */
  logStream?: Parameters<typeof createServer>[0]['logStream']
}

/** The app with test settings, ready for inject(); closed, and its Redis keys deleted, after the test. */
export async function build (t: Test, options: BuildOptions = {}) {
  const store = options.store === 'memory' ? memoryStoreForTest(t) : await redisStoreForTest(t, 'spawner-broker')
  if (store === undefined) throw new Error('these tests need Redis')
  // The queue opens its own connections; it shares the store's prefix, so the test's cleanup takes its keys too.
  const redisEnv: Record<string, string> = 'prefix' in store ? { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: store.prefix } : {}
  const config = readConfig({ ...TEST_ENV, ...redisEnv, ...options.env })
  const server = createServer({ service: 'spawner-broker', config, ...(options.logStream ? { logStream: options.logStream } : { logger: false }) })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => await server.close())
  return server
}

export type App = Awaited<ReturnType<typeof build>>

let counter = 0

/** A launch request as tool-auth sends it. */
export function launchRequest (overrides: Partial<PendingLaunchRequest> = {}): PendingLaunchRequest {
  counter++
  return {
    username: `learner${counter}`,
    role: 'learner',
    isAdmin: false,
    roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
    user: { sub: `sub-${counter}`, issuer: 'http://localhost:3000', name: 'Ada Learner', email: `learner${counter}@example.org` },
    platform: { issuer: 'http://localhost:3000', clientId: 'ltilaunch-jupyterhub', deploymentId: '1' },
    course: { id: 'course-1', label: 'MATH101', title: 'Calculus' },
    resourceLink: { id: 'link-1', title: 'Notebook' },
    custom: {},
    ...overrides
  }
}

let keys = 0

export async function postLaunch (app: App, body: unknown, options: { key?: string, token?: string | null } = {}) {
  const headers: Record<string, string> = { 'idempotency-key': options.key ?? `key-${Date.now()}-${keys++}` }
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? SERVICE_TOKEN}`
  return await app.inject({ method: 'POST', url: '/v1/launches', headers, payload: body as Record<string, unknown> })
}

export async function getLaunch (app: App, id: string) {
  return await app.inject({ method: 'GET', url: `/v1/launches/${id}`, headers: { authorization: `Bearer ${SERVICE_TOKEN}` } })
}

/** Polls the launch record until `until` holds (or fails the wait after timeoutMs). */
export async function waitForLaunch (app: App, id: string, until: (record: LaunchRecord) => boolean = (r) => r.status === 'ready' || r.status === 'failed', timeoutMs = 10_000): Promise<LaunchRecord> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await getLaunch(app, id)
    const record = res.json() as LaunchRecord
    if (res.statusCode === 200 && until(record)) return record
    if (Date.now() > deadline) throw new Error(`launch ${id} did not settle: ${JSON.stringify(record)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A port where nothing listens (bound, then released). */
export async function deadPort (): Promise<number> {
  const { createServer: createNetServer } = await import('node:net')
  return await new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 1))
    })
  })
}

/** The app against a Redis that is not there: store and queue both fail fast. */
export async function buildWithDeadRedis (t: Test, env: Record<string, string> = {}) {
  const url = `redis://127.0.0.1:${await deadPort()}`
  const config = readConfig({ ...TEST_ENV, REDIS_URL: url, ...env })
  const store = new RedisStore(createRedisClient({ REDIS_URL: url }), { prefix: 'dead:' })
  const server = createServer({ service: 'spawner-broker', config, logger: false })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => {
    await server.close()
    await store.close()
  })
  return server
}
