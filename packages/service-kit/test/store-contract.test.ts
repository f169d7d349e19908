import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryStore } from '../src/store/memory.js'
import { RedisStore } from '../src/store/redis.js'
import { STORE_KINDS, storeForTest } from '../src/testing.js'

// The same contract, held by the in-process store and by Redis.
for (const kind of STORE_KINDS) {
  t.test(`${kind} store`, async (t) => {
    const store = await storeForTest(t, kind)
    if (store === undefined) return
    t.equal(store.kind, kind)

    t.test('put then take returns the value once', async (t) => {
      await store.put('state:a', { nonce: 'n1', next: '/x' }, 60)
      t.same(await store.take('state:a'), { nonce: 'n1', next: '/x' })
      t.equal(await store.take('state:a'), undefined, 'a second take finds nothing')
    })

    t.test('take of an unknown key is undefined', async (t) => {
      t.equal(await store.take('state:never'), undefined)
    })

    t.test('claim succeeds once, then refuses', async (t) => {
      t.equal(await store.claim('nonce:1', 60), true)
      t.equal(await store.claim('nonce:1', 60), false)
      t.equal(await store.claim('nonce:2', 60), true, 'another key is independent')
    })

    t.test('putNew does not overwrite', async (t) => {
      t.equal(await store.putNew('idem:1', 'first', 60), true)
      t.equal(await store.putNew('idem:1', 'second', 60), false)
      t.equal(await store.get('idem:1'), 'first')
    })

    t.test('get and set keep the value until it expires', async (t) => {
      await store.set('session:1', { user: 'ada' }, 60)
      t.same(await store.get('session:1'), { user: 'ada' })
      t.same(await store.get('session:1'), { user: 'ada' }, 'get does not consume')
      await store.set('session:1', { user: 'grace' }, 60)
      t.same(await store.get('session:1'), { user: 'grace' }, 'set overwrites')
    })

    t.test('delete removes and reports whether it did', async (t) => {
      await store.set('d:1', 1, 60)
      t.equal(await store.delete('d:1'), true)
      t.equal(await store.delete('d:1'), false)
      t.equal(await store.get('d:1'), undefined)
    })

    t.test('values expire after their TTL', async (t) => {
      await store.put('short', 'v', 1)
      t.equal(await store.claim('short-claim', 1), true)
      await sleep(1100)
      t.equal(await store.take('short'), undefined, 'an expired value cannot be taken')
      t.equal(await store.claim('short-claim', 1), true, 'an expired claim can be made again')
    })

    t.test('concurrent takes of one key: exactly one winner', async (t) => {
      await store.put('race', 'prize', 60)
      const results = await Promise.all(Array.from({ length: 50 }, async () => await store.take('race')))
      t.equal(results.filter((r) => r === 'prize').length, 1)
    })

    t.test('concurrent claims of one key: exactly one winner', async (t) => {
      const results = await Promise.all(Array.from({ length: 50 }, async () => await store.claim('race-nonce', 60)))
      t.equal(results.filter(Boolean).length, 1)
    })

    t.test('bind keeps the first owner for good, and tells later callers who it is', async (t) => {
      t.equal(await store.bind('name:grace', 'issuer-a|sub-1'), 'issuer-a|sub-1')
      t.equal(await store.bind('name:grace', 'issuer-b|sub-1'), 'issuer-a|sub-1', 'a second owner gets the first one back')
      t.equal(await store.bind('name:grace', 'issuer-a|sub-1'), 'issuer-a|sub-1', 'the owner itself is welcome again')
      t.equal(await store.get('name:grace'), 'issuer-a|sub-1', 'get reads a binding')
      if (store instanceof RedisStore) t.equal(await store.redis.ttl(`${store.prefix}name:grace`), -1, 'no TTL on Redis')
      const [bound, other] = await store.batch([
        { op: 'bind', key: 'name:grace', owner: 'issuer-c|sub-9' },
        { op: 'bind', key: 'name:ada', owner: 'issuer-c|sub-9' }
      ])
      t.equal(bound, 'issuer-a|sub-1', 'in a batch too')
      t.equal(other, 'issuer-c|sub-9')
    })

    t.test('concurrent binds of one name: every caller sees the same single owner', async (t) => {
      const owners = await Promise.all(Array.from({ length: 50 }, async (_, i) => await store.bind('race-name', `owner-${i}`)))
      t.equal(new Set(owners).size, 1)
    })

    t.test('a durable map keeps records without a TTL, lists and removes them', async (t) => {
      t.same(await store.mapAll('registrations'), {}, 'an absent map is empty')
      t.equal(await store.mapGet('registrations', 'https://lms.example'), undefined)
      await store.mapSet('registrations', 'https://lms.example', { client_ids: ['a'] })
      await store.mapSet('registrations', 'https://other.example', { client_ids: ['b'] })
      await store.mapSet('registrations', 'https://lms.example', { client_ids: ['a', 'c'] })
      t.same(await store.mapGet('registrations', 'https://lms.example'), { client_ids: ['a', 'c'] }, 'mapSet overwrites')
      t.same(await store.mapAll('registrations'), {
        'https://lms.example': { client_ids: ['a', 'c'] },
        'https://other.example': { client_ids: ['b'] }
      })
      t.same(await store.mapAll('other-map'), {}, 'maps are independent')
      t.equal(await store.mapDelete('registrations', 'https://lms.example'), true)
      t.equal(await store.mapDelete('registrations', 'https://lms.example'), false, 'a second delete finds nothing')
      t.same(Object.keys(await store.mapAll('registrations')), ['https://other.example'])
    })

    t.test('a non-positive TTL is refused', async (t) => {
      await t.rejects(store.put('bad', 1, 0), RangeError)
      await t.rejects(store.set('bad', 1, -5), RangeError)
    })

    t.test('batch runs its operations in order and answers each', async (t) => {
      await store.set('b:old', 'old', 60)
      const results = await store.batch([
        { op: 'set', key: 'b:1', value: { n: 1 }, ttlSeconds: 60 },
        { op: 'putNew', key: 'b:1', value: 'not written', ttlSeconds: 60 },
        { op: 'putNew', key: 'b:2', value: 'two', ttlSeconds: 60 },
        { op: 'get', key: 'b:1' },
        { op: 'get', key: 'b:missing' },
        { op: 'delete', key: 'b:old' },
        { op: 'delete', key: 'b:old' },
        { op: 'take', key: 'b:2' },
        { op: 'take', key: 'b:2' }
      ])
      t.same(results, [undefined, false, true, { n: 1 }, undefined, true, false, 'two', undefined])
      t.equal(await store.get('b:2'), undefined, 'taken')
      t.equal(await store.get('b:old'), undefined)
      t.same(await store.batch([]), [], 'an empty batch does nothing')
    })

    t.test('a batch with a bad TTL writes nothing', async (t) => {
      await t.rejects(store.batch([
        { op: 'set', key: 'b:bad-1', value: 1, ttlSeconds: 60 },
        { op: 'set', key: 'b:bad-2', value: 1, ttlSeconds: 0 }
      ]), RangeError)
      t.equal(await store.get('b:bad-1'), undefined)
    })

    t.test('batched values expire after their TTL', async (t) => {
      await store.batch([{ op: 'set', key: 'b:short', value: 'v', ttlSeconds: 1 }])
      await sleep(1100)
      t.equal(await store.get('b:short'), undefined)
    })

    t.test('durable records: fields kept without a TTL, listed, deleted one by one', async (t) => {
      t.same(await store.mapAll('links:none'), {}, 'no record is an empty one')
      await Promise.all([store.mapSet('links:c1', 'a', { title: 'A' }), store.mapSet('links:c1', 'b', { title: 'B' })])
      t.same(await store.mapAll('links:c1'), { a: { title: 'A' }, b: { title: 'B' } }, 'concurrent writers keep both fields')
      if (store.kind === 'redis') {
        const redis = store as unknown as { redis: { ttl: (key: string) => Promise<number> }, prefix: string }
        t.equal(await redis.redis.ttl(`${redis.prefix}links:c1`), -1, 'no expiry in Redis')
      }
      t.equal(await store.mapDelete('links:c1', 'a'), true)
      t.equal(await store.mapDelete('links:c1', 'a'), false, 'a second delete finds nothing')
      t.same(await store.mapAll('links:c1'), { b: { title: 'B' } })
    })

    t.test('ping answers', async (t) => {
      await t.resolves(store.ping())
    })
  })
}

t.test('memory store sweeps expired entries nobody reads', async (t) => {
  let now = 0
  const store = new MemoryStore({ now: () => now, sweepIntervalMs: 60_000 })
  t.teardown(() => store.close())
  await store.set('a', 1, 10)
  await store.set('b', 1, 100)
  t.equal(store.size, 2)
  now = 20_000
  t.equal(store.size, 1, 'the expired entry is gone without being read')
})

t.test('memory store prefixes keep two stores apart', async (t) => {
  const a = new MemoryStore({ prefix: 'a:' })
  t.teardown(() => a.close())
  await a.set('k', 1, 10)
  t.equal(await a.get('k'), 1)
})
