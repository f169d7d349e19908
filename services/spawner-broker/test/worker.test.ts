import type { RedisStore } from '@ltilaunch/service-kit'
import { testRedisUrl } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import type { WorkQueue } from '../src/queue/queue.js'
import { RedisStreamQueue } from '../src/queue/redis-stream.js'
import { Worker } from '../src/worker/worker.js'
import { fakeHubForTest } from './fake-hub.js'
import { build, getLaunch, launchRequest, postLaunch, waitForLaunch, type App } from './helper.js'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

async function pendingEntries (app: App): Promise<number> {
  const store = app.store as RedisStore
  const reply = await store.redis.call('XPENDING', `${store.prefix}launches`, 'spawners') as [number | string, ...unknown[]]
  return Number(reply[0])
}

t.test('without Redis the same worker runs on the in-process queue', async (t) => {
  const app = await build(t, { store: 'memory' })
  t.equal(app.workQueue.kind, 'memory')
  const res = await postLaunch(app, launchRequest())
  t.equal(res.statusCode, 201)
  const record = await waitForLaunch(app, res.json().id)
  t.equal(record.status, 'ready')
})

t.test('a second queue entry for a finished launch, or one of an older attempt, starts nothing', async (t) => {
  const hub = await fakeHubForTest(t)
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token } })
  const res = await postLaunch(app, launchRequest({ username: 'once' }))
  const id = res.json().id
  await waitForLaunch(app, id)
  t.equal(hub.starts.length, 1)
  const callsBefore = hub.calls.length
  await app.workQueue.enqueue(id, 1)
  await app.workQueue.enqueue(id, 0)
  await app.workQueue.enqueue('NoSuchLaunchAAAAAAAAAAAA', 1)
  for (let i = 0; i < 40 && (await pendingEntries(app)) > 0; i++) await sleep(25)
  await sleep(100)
  t.equal(await pendingEntries(app), 0, 'all three were acknowledged')
  t.equal(hub.calls.length, callsBefore, 'the hub was not asked anything')
  t.equal((await getLaunch(app, id)).json().status, 'ready')
})

function workerFor (app: App, options: { claimIdleMs?: number, maxDeliveries?: number } = {}): Worker {
  return new Worker({
    queue: app.workQueue,
    launches: app.launches,
    driver: app.spawnDriver,
    log: app.log,
    concurrency: 1,
    claimIdleMs: options.claimIdleMs ?? 1000,
    spawnTimeoutMs: 5000,
    maxDeliveries: options.maxDeliveries ?? 5,
    blockMs: 200
  })
}

t.test('a launch leased by a live worker elsewhere is left to it, and taken over once the lease is gone', async (t) => {
  const hub = await fakeHubForTest(t)
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token, WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest({ username: 'contended' }))
  const id = res.json().id
  // Another broker on the same stream holds the lease: its worker is alive and on it.
  const store = app.store as RedisStore
  const other = new RedisStreamQueue({ settings: { REDIS_URL: testRedisUrl() }, prefix: store.prefix, stream: 'launches', group: 'spawners', claimIdleMs: 400 })
  t.teardown(async () => await other.close())
  await other.connect()
  t.ok(await other.acquireLease(id, 10_000))

  const worker = workerFor(app, { claimIdleMs: 400 })
  worker.start()
  t.teardown(async () => await worker.stop())
  await sleep(1200) // delivered, then reclaimed at least once
  t.equal((await getLaunch(app, id)).json().status, 'pending', 'not touched while another holds the lease')
  t.equal(hub.starts.length, 0)
  await other.releaseLease(id)
  const record = await waitForLaunch(app, id)
  t.equal(record.status, 'ready', 'taken over once the lease was released')
  t.equal(hub.starts.length, 1)
})

t.test('a launch taken up QUEUE_MAX_DELIVERIES times without finishing fails instead of looping', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0', QUEUE_MAX_DELIVERIES: '2' } })
  const res = await postLaunch(app, launchRequest())
  const id = res.json().id
  const launch = await app.launches.get(id)
  if (!launch) throw new Error('no record')
  launch.deliveries = 2 // two workers died on it already
  await app.launches.save(launch)
  const worker = workerFor(app, { maxDeliveries: 2 })
  worker.start()
  t.teardown(async () => await worker.stop())
  const record = await waitForLaunch(app, id)
  t.equal(record.status, 'failed')
  t.match(record.reason, 'taken up 2 times without finishing')
})

t.test('stopping the app cuts a running spawn short and leaves it queued for another broker', async (t) => {
  const hub = await fakeHubForTest(t, { spawnMs: 60_000 })
  const env = { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token, QUEUE_CLAIM_IDLE_MS: '300' }
  const first = await build(t, { env })
  const res = await postLaunch(first, launchRequest({ username: 'handover' }))
  const id = res.json().id
  for (let i = 0; i < 200 && hub.starts.length === 0; i++) await sleep(25)
  t.equal(hub.starts.length, 1, 'the first broker started the spawn')
  await first.close()

  // A second broker on the same store and stream.
  const store = first.store as RedisStore
  const { createServer } = await import('@ltilaunch/service-kit')
  const { readConfig } = await import('../src/config.js')
  const { default: app } = await import('../src/app.js')
  const fp = (await import('fastify-plugin')).default
  const { TEST_ENV } = await import('./helper.js')
  const config = readConfig({ ...TEST_ENV, ...env, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: store.prefix })
  const second = createServer({ service: 'spawner-broker', config, logger: false })
  await second.register(fp(app), { config, store })
  await second.ready()
  t.teardown(async () => await second.close())

  const taken = await waitForLaunch(second as unknown as App, id, (r) => r.progress.some((p) => /Picked up again/.test(p.message)))
  t.equal(taken.status, 'spawning')
  hub.finishSpawn('handover', '')
  const record = await waitForLaunch(second as unknown as App, id)
  t.equal(record.status, 'ready')
  t.equal(hub.starts.length, 1, 'the pending spawn was followed, not repeated')
})

t.test('a failed acknowledgement does not turn a ready launch into a failed one', async (t) => {
  const app = await build(t, { store: 'memory', env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest())
  const queue = app.workQueue
  const counter = { acks: 0 }
  const flaky: WorkQueue = {
    kind: queue.kind,
    consumer: queue.consumer,
    enqueue: queue.enqueue.bind(queue),
    read: queue.read.bind(queue),
    reclaim: queue.reclaim.bind(queue),
    touch: queue.touch.bind(queue),
    acquireLease: queue.acquireLease.bind(queue),
    renewLease: queue.renewLease.bind(queue),
    releaseLease: queue.releaseLease.bind(queue),
    interrupt: queue.interrupt.bind(queue),
    ping: queue.ping.bind(queue),
    close: queue.close.bind(queue),
    ack: async () => {
      counter.acks++
      throw new Error('connection lost')
    }
  }
  const worker = new Worker({
    queue: flaky,
    launches: app.launches,
    driver: app.spawnDriver,
    log: app.log,
    concurrency: 1,
    claimIdleMs: 1000,
    spawnTimeoutMs: 5000,
    maxDeliveries: 5,
    blockMs: 100
  })
  worker.start()
  t.teardown(async () => await worker.stop())
  const record = await waitForLaunch(app, res.json().id)
  t.equal(record.status, 'ready')
  for (let i = 0; i < 40 && counter.acks === 0; i++) await sleep(25)
  t.equal(counter.acks, 1, 'the acknowledgement was tried')
  await sleep(100)
  t.equal((await getLaunch(app, record.id)).json().status, 'ready', 'and the launch stays ready')
})
