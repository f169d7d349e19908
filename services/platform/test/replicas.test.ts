import { createRedisClient, RedisStore, waitForRedis } from '@ltilaunch/service-kit'
import { deletePrefix, redisReachable, testPrefix, testRedisUrl } from '@ltilaunch/service-kit/testing'
import { createLocalJWKSet, jwtVerify } from 'jose'
import t, { type Test } from 'tap'
import { API_KEY, authorizeGet, authParams, Browser, build, formOf, signIn, startLaunch } from './helper.js'

/** Two app instances, each with its own Redis connection, sharing one key prefix: two replicas. */
async function replicas (t: Test) {
  if (!(await redisReachable())) throw new Error(`these tests need Redis at ${testRedisUrl()}`)
  const prefix = testPrefix('platform-replicas')
  const clients = [0, 1].map(() => createRedisClient({ REDIS_URL: testRedisUrl() }))
  for (const client of clients) if (!(await waitForRedis(client))) throw new Error('Redis did not answer')
  const stores = clients.map((client) => new RedisStore(client, { prefix }))
  t.teardown(async () => {
    await deletePrefix(stores[0]?.redis as never, prefix)
    for (const store of stores) await store.close()
  })
  const [a, b] = await Promise.all(stores.map(async (store) => await build(t, { store })))
  return { a: a as Awaited<ReturnType<typeof build>>, b: b as Awaited<ReturnType<typeof build>> }
}

/** One browser talking to whichever replica the load balancer picks. */
function across (a: Browser, b: Browser): void {
  b.jar.clear()
  for (const [name, value] of a.jar) b.jar.set(name, value)
}

t.test('two replicas serve one launch: sign in and launch on A, authorize on B', async (t) => {
  const { a, b } = await replicas(t)
  const onA = new Browser(a)
  const onB = new Browser(b)
  await signIn(onA, 'grace')
  const login = await startLaunch(onA)
  across(onA, onB)
  const params = authParams(login)
  const res = await authorizeGet(onB, params)
  const form = formOf(res.body)
  t.ok(form.fields.id_token, res.body.slice(0, 200))
  // Both replicas sign with the one configured key, so either one's JWKS verifies it.
  const { payload } = await jwtVerify(form.fields.id_token as string, createLocalJWKSet(a.keys.jwks), { audience: 'test-tool' })
  t.equal(payload.nonce, params.nonce)

  // The hint and the nonce are used up for both.
  across(onB, onA)
  t.equal(formOf((await authorizeGet(onA, authParams(login))).body).fields.error, 'invalid_request', 'message hint replayed on A')
  const second = await startLaunch(onA)
  across(onA, onB)
  const replay = formOf((await authorizeGet(onB, authParams(second, { nonce: params.nonce }))).body)
  t.equal(replay.fields.error, 'invalid_request', 'nonce replayed on B')
})

t.test('two replicas serve one API launch: URL from A, redeemed on B, authorized on A; used once for both', async (t) => {
  const { a, b } = await replicas(t)
  const created = await a.inject({
    method: 'POST',
    url: '/api/v1/launches',
    headers: { authorization: `Bearer ${API_KEY}` },
    payload: { user: { id: 'u1', roles: ['Learner'] }, client_id: 'test-tool', context: { id: 'c1' }, resource_link: { id: 'r1' } }
  })
  const path = new URL(created.json().launchUrl).pathname
  const onB = new Browser(b)
  const go = await onB.get(path)
  t.equal(go.statusCode, 303)
  const onA = new Browser(a)
  across(onB, onA)
  const login = Object.fromEntries(new URL(go.headers.location as string).searchParams)
  t.ok(formOf((await authorizeGet(onA, authParams(login))).body).fields.id_token)
  t.equal((await new Browser(a).get(path)).statusCode, 410, 'the URL is spent on A as well')
})

t.test('sign-in attempts are counted across replicas: the limit is in Redis, not in each process', async (t) => {
  const { a, b } = await replicas(t)
  const onA = new Browser(a)
  const onB = new Browser(b)
  const form = formOf((await onA.get('/login')).body)
  across(onA, onB)
  // 20 a minute per address: 10 wrong guesses on each replica use them all up.
  for (let i = 0; i < 20; i++) {
    const browser = i % 2 === 0 ? onA : onB
    const res = await browser.post('/login', { ...form.fields, username: 'ada', password: `guess-${i}` }, { accept: 'application/json' })
    t.equal(res.statusCode, 401, `attempt ${i + 1} is checked`)
  }
  for (const [name, browser] of [['A', onA], ['B', onB]] as const) {
    const limited = await browser.post('/login', { ...form.fields, username: 'ada', password: 'ada-test-pw' }, { accept: 'application/json' })
    t.equal(limited.statusCode, 429, `replica ${name} refuses the 21st attempt`)
    t.equal(limited.json().code, 'PLATFORM_RATE_LIMITED')
    t.ok(Number(limited.headers['retry-after']) > 0, 'with Retry-After')
  }
})
