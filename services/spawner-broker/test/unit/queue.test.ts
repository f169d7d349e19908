import type { RedisClient } from '@ltilaunch/service-kit'
import { deletePrefix, describeTestRedis, redisReachable, redisRequired, testPrefix, testRedisClient, testRedisSettings } from '@ltilaunch/service-kit/testing'
import t, { type Test } from 'tap'
import { MemoryQueue } from '../../src/queue/memory.js'
import type { WorkQueue } from '../../src/queue/queue.js'
import { RedisStreamQueue } from '../../src/queue/redis-stream.js'

const IDLE = 300

/**
 * Two brokers' queues on one Redis stream, under a fresh prefix that is
 * deleted afterwards; on the Redis (or the Cluster, or Sentinel) that the
 * environment names (testRedisSettings).
 */
async function redisPair (t: Test, name: string): Promise<{ a: RedisStreamQueue, b: RedisStreamQueue, redis: RedisClient, prefix: string } | undefined> {
  if (!(await redisReachable())) {
    if (redisRequired()) throw new Error(`no ${describeTestRedis()}`)
    return undefined
  }
  const prefix = testPrefix(name)
  const make = async () => {
    const q = new RedisStreamQueue({ settings: testRedisSettings(), prefix, stream: 'launches', group: 'spawners', claimIdleMs: IDLE })
    t.ok(await q.connect(10_000), `the queue's connections are ready (${describeTestRedis()})`)
    return q
  }
  const a = await make()
  const b = await make()
  const redis = await testRedisClient()
  t.teardown(async () => {
    await a.close()
    await b.close()
    await deletePrefix(redis, prefix)
    await redis.quit()
  })
  return { a, b, redis, prefix }
}

/** Two consumers of one queue: two brokers (Redis), or one process's queue seen twice (memory). */
async function pair (t: Test, kind: 'memory' | 'redis'): Promise<[WorkQueue, WorkQueue] | undefined> {
  if (kind === 'memory') {
    const q = new MemoryQueue({ claimIdleMs: IDLE })
    t.teardown(async () => await q.close())
    return [q, q]
  }
  const queues = await redisPair(t, 'broker-queue')
  return queues && [queues.a, queues.b]
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

for (const kind of ['memory', 'redis'] as const) {
  t.test(`${kind}: an entry goes to one consumer, and leaves the queue when acknowledged`, async (t) => {
    const queues = await pair(t, kind)
    if (!queues) return t.pass('skipped: no Redis')
    const [a, b] = queues
    await a.enqueue('L1', 1)
    const got = await a.read(10, 100)
    t.match(got, [{ launchId: 'L1', attempt: 1 }])
    t.same(await b.read(10, 50), [], 'not delivered twice')
    await a.ack(got[0]?.entryId as string)
    await sleep(IDLE + 50)
    t.same(await b.reclaim(10), [], 'an acknowledged entry is never claimed')
  })

  t.test(`${kind}: a blocked read wakes when work arrives`, async (t) => {
    const queues = await pair(t, kind)
    if (!queues) return t.pass('skipped: no Redis')
    const [a] = queues
    const started = Date.now()
    setTimeout(() => { a.enqueue('L2', 1).catch(() => {}) }, 100)
    const got = await a.read(1, 3000)
    t.equal(got[0]?.launchId, 'L2')
    t.ok(Date.now() - started < 1500, 'without waiting the whole block time')
  })

  t.test(`${kind}: an entry idle longer than the claim time is claimed; a touched one is not`, async (t) => {
    const queues = await pair(t, kind)
    if (!queues) return t.pass('skipped: no Redis')
    const [a, b] = queues
    await a.enqueue('L3', 1)
    await a.enqueue('L4', 1)
    const got = await a.read(10, 100)
    t.equal(got.length, 2)
    t.same(await b.reclaim(10), [], 'not before the claim time')
    await sleep(IDLE / 2)
    await a.touch(got[1]?.entryId as string) // L4 is still being worked on
    await sleep(IDLE / 2 + 60)
    const claimed = await b.reclaim(10)
    t.same(claimed.map((e) => e.launchId), ['L3'], 'only the idle one')
  })

  t.test(`${kind}: a lease has one holder until it is released or expires`, async (t) => {
    const queues = await pair(t, kind)
    if (!queues) return t.pass('skipped: no Redis')
    const [a, b] = queues
    t.ok(await a.acquireLease('L5', IDLE))
    if (kind === 'redis') {
      t.notOk(await b.acquireLease('L5', IDLE), 'a second holder is refused')
      t.notOk(await b.renewLease('L5', IDLE), 'nor can it renew another\'s lease')
      await b.releaseLease('L5')
      t.ok(await a.renewLease('L5', IDLE), 'the holder\'s lease survives another\'s release')
    } else {
      t.notOk(await a.acquireLease('L5', IDLE), 'a second holder is refused')
      t.ok(await a.renewLease('L5', IDLE))
    }
    await sleep(IDLE + 50)
    t.notOk(await a.renewLease('L5', IDLE), 'an expired lease cannot be renewed')
    t.ok(await b.acquireLease('L5', IDLE), 'an expired lease can be taken')
    await b.releaseLease('L5')
    t.ok(await a.acquireLease('L5', IDLE), 'a released lease can be taken')
  })
}

t.test('redis: acknowledging takes the entry out of the pending list and the stream, and releases only its own lease', async (t) => {
  const queues = await redisPair(t, 'broker-queue-ack')
  if (!queues) return t.pass('skipped: no Redis')
  const { a, b, redis, prefix } = queues
  const stream = `${prefix}launches`
  await a.enqueue('L6', 1)
  await a.enqueue('L7', 1)
  const got = await a.read(10, 100)
  t.equal(got.length, 2)
  t.ok(await a.acquireLease('L6', 10_000))
  t.ok(await b.acquireLease('L7', 10_000))
  await a.ack(got[0]?.entryId as string, 'L6')
  await a.ack(got[1]?.entryId as string, 'L7') // L7's lease is b's
  const pending = await redis.call('XPENDING', stream, 'spawners') as [number | string, ...unknown[]]
  t.equal(Number(pending[0]), 0, 'nothing pending')
  t.equal(await redis.xlen(stream), 0, 'nothing left in the stream')
  t.ok(await b.acquireLease('L6', IDLE), 'the acknowledging consumer\'s lease is released')
  t.notOk(await a.acquireLease('L7', IDLE), 'another consumer\'s lease is left alone')
  t.ok(await b.renewLease('L7', IDLE))
})
