import type { RedisStore } from '@ltilaunch/service-kit'
import { testRedisUrl } from '@ltilaunch/service-kit/testing'
import t, { type Test } from 'tap'
import { SpawnFailed, type SpawnContext, type SpawnDriver, type SpawnResult } from '../src/drivers/driver.js'
import { LaunchRepository, MAX_PROGRESS, type StoredLaunch } from '../src/launches/records.js'
import { spawnJobCodec, type SpawnQueue } from '../src/queue/spawn-job.js'
import { RedisStreamQueue } from '@ltilaunch/service-kit'
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
  await app.workQueue.enqueue({ launchId: id, attempt: 1 })
  await app.workQueue.enqueue({ launchId: id, attempt: 0 })
  await app.workQueue.enqueue({ launchId: 'NoSuchLaunchAAAAAAAAAAAA', attempt: 1 })
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
  const other = new RedisStreamQueue({ settings: { REDIS_URL: testRedisUrl() }, prefix: store.prefix, stream: 'launches', group: 'spawners', claimIdleMs: 400, codec: spawnJobCodec })
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
  const flaky: SpawnQueue = {
    kind: queue.kind,
    consumer: queue.consumer,
    enqueue: queue.enqueue.bind(queue),
    read: queue.read.bind(queue),
    reclaim: queue.reclaim.bind(queue),
    touch: queue.touch.bind(queue),
    acquireLease: queue.acquireLease.bind(queue),
    renewLease: queue.renewLease.bind(queue),
    releaseLease: queue.releaseLease.bind(queue),
    stats: queue.stats.bind(queue),
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

/** The launch repository, counting the writes of records. */
class CountingLaunches extends LaunchRepository {
  writes = 0
  override async save (launch: StoredLaunch): Promise<void> {
    this.writes++
    await super.save(launch)
  }
}

/** A driver that reports `messages` progress messages, `gapMs` apart (0: back to back, as hub events read in one chunk). */
function chattyDriver (messages: number, gapMs: number): SpawnDriver {
  return {
    name: 'jupyterhub',
    async spawn (launch: StoredLaunch, context: SpawnContext): Promise<SpawnResult> {
      for (let i = 1; i <= messages; i++) {
        if (gapMs > 0) await sleep(gapMs)
        await context.progress(`step ${i} of ${messages}`, (100 * i) / messages)
      }
      return { serverName: launch.serverName, serverUrl: 'http://hub.test/user/x/', redirectUrl: 'http://hub.test/hub/login' }
    }
  }
}

function chattyWorker (t: Test, app: App, launches: LaunchRepository, driver: SpawnDriver): Worker {
  const worker = new Worker({ queue: app.workQueue, launches, driver, log: app.log, concurrency: 4, claimIdleMs: 1000, spawnTimeoutMs: 5000, maxDeliveries: 5, blockMs: 100 })
  worker.start()
  t.teardown(async () => await worker.stop())
  return worker
}

t.test('progress that comes in a burst shares writes, and every message reaches the record', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const launches = new CountingLaunches(app.store, 3600)
  chattyWorker(t, app, launches, chattyDriver(30, 0))
  const id = (await postLaunch(app, launchRequest())).json().id
  const record = await waitForLaunch(app, id)
  t.equal(record.status, 'ready')
  t.same(record.progress.map((p) => p.message), [
    'Waiting for a broker to start your server',
    'Starting your server',
    ...Array.from({ length: 30 }, (_, i) => `step ${i + 1} of 30`),
    'Your server is ready'
  ], 'every message, in order')
  t.ok(launches.writes < 30, `${launches.writes} writes for 30 messages and two states`)
  t.ok(launches.writes >= 2, 'spawning and ready are written')
  t.equal(await pendingEntries(app), 0, 'acknowledged once written')
})

t.test('past MAX_PROGRESS the record keeps the newest messages, the last one included', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const launches = new CountingLaunches(app.store, 3600)
  chattyWorker(t, app, launches, chattyDriver(100, 0))
  const id = (await postLaunch(app, launchRequest())).json().id
  const record = await waitForLaunch(app, id)
  t.equal(record.status, 'ready')
  t.equal(record.progress.length, MAX_PROGRESS)
  t.same(record.progress.slice(-3).map((p) => p.message), ['step 99 of 100', 'step 100 of 100', 'Your server is ready'])
  t.ok(launches.writes < 100, `${launches.writes} writes for 100 messages`)
})

t.test('progress that comes slowly is written message by message, and the page\'s stream sees it', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const launches = new CountingLaunches(app.store, 3600)
  chattyWorker(t, app, launches, chattyDriver(3, 150))
  const id = (await postLaunch(app, launchRequest())).json().id
  const seen = await waitForLaunch(app, id, (r) => r.progress.some((p) => p.message === 'step 1 of 3'))
  t.equal(seen.status, 'spawning', 'a message is visible while the spawn goes on')
  const events = await app.inject({ method: 'GET', url: `/launches/${id as string}/events` })
  const updates = events.body.split('\n\n').filter((chunk) => chunk.startsWith('event: update'))
  const last = JSON.parse(updates.at(-1)?.split('\ndata: ')[1] ?? '{}')
  t.equal(last.status, 'ready', 'the stream ends with ready')
  t.equal(last.redirectUrl, 'http://hub.test/hub/login')
  t.ok(launches.writes >= 4, `${launches.writes} writes: spawning, then each message (the last one together with ready)`)
})

t.test('a failed spawn after a burst of progress is recorded as failed, never overwritten by a late progress write', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const launches = new CountingLaunches(app.store, 3600)
  const driver: SpawnDriver = {
    name: 'jupyterhub',
    async spawn (_launch, context) {
      for (let i = 1; i <= 20; i++) await context.progress(`step ${i}`)
      throw new SpawnFailed('The hub said no')
    }
  }
  chattyWorker(t, app, launches, driver)
  const id = (await postLaunch(app, launchRequest())).json().id
  const record = await waitForLaunch(app, id)
  t.equal(record.status, 'failed')
  t.equal(record.reason, 'The hub said no')
  t.equal(record.progress.at(-1)?.message, 'Failed: The hub said no')
  t.equal(record.progress.filter((p) => p.message.startsWith('step ')).length, 20)
  await sleep(100)
  t.equal((await getLaunch(app, id)).json().status, 'failed', 'and stays failed')
  t.equal(await pendingEntries(app), 0)
})
