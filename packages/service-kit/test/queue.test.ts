import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createWorkQueue, MemoryQueue, RedisStreamQueue, type WorkQueue } from '../src/index.js'
import { deletePrefix, redisReachable, redisRequired, testPrefix, testRedisUrl } from '../src/testing.js'

/** A payload as a service would queue it. */
interface Job { id: string, attempt: number }

const IDLE = 300

/** Two brokers' queues on one Redis stream, under a fresh prefix that is deleted afterwards. */
async function redisPair (t: Test, name: string): Promise<{ a: RedisStreamQueue<Job>, b: RedisStreamQueue<Job>, redis: Redis, prefix: string } | undefined> {
  if (!(await redisReachable())) {
    if (redisRequired()) throw new Error(`no Redis at ${testRedisUrl()}`)
    return undefined
  }
  const prefix = testPrefix(name)
  const make = async () => {
    const q = new RedisStreamQueue<Job>({ settings: { REDIS_URL: testRedisUrl() }, prefix, stream: 'jobs', group: 'workers', claimIdleMs: IDLE })
    await q.connect()
    return q
  }
  const a = await make()
  const b = await make()
  const redis = new Redis(testRedisUrl())
  t.teardown(async () => {
    await a.close()
    await b.close()
    await deletePrefix(redis, prefix)
    await redis.quit()
  })
  return { a, b, redis, prefix }
}

/** Two consumers of one queue: two brokers (Redis), or one process's queue seen twice (memory). */
async function pair (t: Test, kind: 'memory' | 'redis'): Promise<[WorkQueue<Job>, WorkQueue<Job>] | undefined> {
  if (kind === 'memory') {
    const q = new MemoryQueue<Job>({ claimIdleMs: IDLE })
    t.teardown(async () => await q.close())
    return [q, q]
  }
  const queues = await redisPair(t, 'work-queue')
  return queues && [queues.a, queues.b]
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

for (const kind of ['memory', 'redis'] as const) {
  t.test(`${kind}: an entry goes to one consumer, and leaves the queue when acknowledged`, async (t) => {
    const queues = await pair(t, kind)
    if (!queues) return t.pass('skipped: no Redis')
    const [a, b] = queues
    await a.enqueue({ id: 'L1', attempt: 1 })
    const got = await a.read(10, 100)
    t.same(got.map((e) => e.payload), [{ id: 'L1', attempt: 1 }])
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
    setTimeout(() => { a.enqueue({ id: 'L2', attempt: 1 }).catch(() => {}) }, 100)
    const got = await a.read(1, 3000)
    t.equal(got[0]?.payload.id, 'L2')
    t.ok(Date.now() - started < 1500, 'without waiting the whole block time')
  })

  t.test(`${kind}: an entry idle longer than the claim time is claimed; a touched one is not`, async (t) => {
    const queues = await pair(t, kind)
    if (!queues) return t.pass('skipped: no Redis')
    const [a, b] = queues
    await a.enqueue({ id: 'L3', attempt: 1 })
    await a.enqueue({ id: 'L4', attempt: 1 })
    const got = await a.read(10, 100)
    t.equal(got.length, 2)
    t.same(await b.reclaim(10), [], 'not before the claim time')
    await sleep(IDLE / 2)
    await a.touch(got[1]?.entryId as string) // L4 is still being worked on
    await sleep(IDLE / 2 + 60)
    const claimed = await b.reclaim(10)
    t.same(claimed.map((e) => e.payload.id), ['L3'], 'only the idle one')
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
  const queues = await redisPair(t, 'work-queue-ack')
  if (!queues) return t.pass('skipped: no Redis')
  const { a, b, redis, prefix } = queues
  const stream = `${prefix}jobs`
  await a.enqueue({ id: 'L6', attempt: 1 })
  await a.enqueue({ id: 'L7', attempt: 1 })
  const got = await a.read(10, 100)
  t.equal(got.length, 2)
  t.ok(await a.acquireLease('L6', 10_000))
  t.ok(await b.acquireLease('L7', 10_000))
  await a.ack(got[0]?.entryId as string, 'L6')
  await a.ack(got[1]?.entryId as string, 'L7') // L7's lease is b's
  const pending = await redis.call('XPENDING', stream, 'workers') as [number | string, ...unknown[]]
  t.equal(Number(pending[0]), 0, 'nothing pending')
  t.equal(await redis.xlen(stream), 0, 'nothing left in the stream')
  t.ok(await b.acquireLease('L6', IDLE), 'the acknowledging consumer\'s lease is released')
  t.notOk(await a.acquireLease('L7', IDLE), 'another consumer\'s lease is left alone')
  t.ok(await b.renewLease('L7', IDLE))
})

t.test('memory: a queued payload is a copy, unchanged by later edits of the caller\'s object', async (t) => {
  const q = new MemoryQueue<Job>({ claimIdleMs: IDLE })
  t.teardown(async () => await q.close())
  const job = { id: 'C1', attempt: 1 }
  await q.enqueue(job)
  job.attempt = 9
  t.same((await q.read(1, 0)).map((e) => e.payload), [{ id: 'C1', attempt: 1 }])
})

t.test('redis: a payload codec decides the stream fields; entries it cannot read are skipped, not delivered', async (t) => {
  if (!(await redisReachable())) {
    if (redisRequired()) throw new Error(`no Redis at ${testRedisUrl()}`)
    return t.pass('skipped: no Redis')
  }
  const prefix = testPrefix('work-queue-codec')
  const redis = new Redis(testRedisUrl())
  const q = await createWorkQueue<Job>({
    settings: { REDIS_URL: testRedisUrl() },
    prefix,
    stream: 'jobs',
    group: 'workers',
    claimIdleMs: IDLE,
    codec: {
      encode: (job) => ({ job: job.id, n: String(job.attempt) }),
      decode: (fields) => fields.job ? { id: fields.job, attempt: Number(fields.n) } : undefined
    }
  })
  t.teardown(async () => {
    await q.close()
    await deletePrefix(redis, prefix)
    await redis.quit()
  })
  t.equal(q.kind, 'redis')
  await q.enqueue({ id: 'K1', attempt: 2 })
  await redis.xadd(`${prefix}jobs`, '*', 'other', 'x')
  const [entry] = await redis.xrange(`${prefix}jobs`, '-', '+', 'COUNT', 1)
  t.same(entry?.[1], ['job', 'K1', 'n', '2'], 'the fields the codec wrote')
  t.same((await q.read(10, 100)).map((e) => e.payload), [{ id: 'K1', attempt: 2 }], 'only the readable entry')
})

t.test('the default codec carries any JSON payload; without Redis settings the queue is in memory', async (t) => {
  const q = await createWorkQueue<{ nested: { list: number[] }, text: string }>({ settings: {}, prefix: 'p:', stream: 's', group: 'g', claimIdleMs: IDLE })
  t.teardown(async () => await q.close())
  t.equal(q.kind, 'memory')
  await q.enqueue({ nested: { list: [1, 2] }, text: 'é' })
  t.same((await q.read(1, 0))[0]?.payload, { nested: { list: [1, 2] }, text: 'é' })
  const queues = await redisPair(t, 'work-queue-json')
  if (!queues) return t.pass('skipped: no Redis')
  const r = queues.a as unknown as RedisStreamQueue<{ nested: { list: number[] }, text: string }>
  await r.enqueue({ nested: { list: [3] }, text: 'ü' })
  t.same((await r.read(1, 100))[0]?.payload, { nested: { list: [3] }, text: 'ü' })
})
