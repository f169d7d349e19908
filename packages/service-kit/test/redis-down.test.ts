import t from 'tap'
import Fastify from 'fastify'
import { createRedisClient, RedisStore, StoreUnavailableError } from '../src/store/index.js'
import serviceKit from '../src/plugins/service-kit.js'
import { BaseConfigSchema, loadConfig } from '../src/config.js'

// A port where nothing listens: Redis is "down".
const DEAD_REDIS = 'redis://127.0.0.1:1'

t.test('a store whose Redis is down fails fast with StoreUnavailableError', async (t) => {
  const client = createRedisClient({ REDIS_URL: DEAD_REDIS })
  client.on('error', () => {})
  const store = new RedisStore(client)
  t.teardown(() => store.close())
  const started = Date.now()
  await t.rejects(store.take('x'), { code: 'LTILAUNCH_STORE_UNAVAILABLE', statusCode: 503 })
  await t.rejects(store.batch([{ op: 'set', key: 'x', value: 1, ttlSeconds: 60 }, { op: 'get', key: 'y' }]), { code: 'LTILAUNCH_STORE_UNAVAILABLE', statusCode: 503 })
  t.ok(Date.now() - started < 1500, 'it does not hang')
  t.ok(new StoreUnavailableError('x') instanceof Error)
})

t.test('with Redis down: /readyz is 503 with Retry-After, a route that needs state is 503, /healthz is 200', async (t) => {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', REDIS_URL: DEAD_REDIS, LOG_LEVEL: 'silent' })
  const app = Fastify()
  await app.register(serviceKit, { service: 'kit-test', errorPrefix: 'KIT', config })
  app.get('/needs-state', async () => await app.store.get('anything'))
  t.teardown(() => app.close())

  const health = await app.inject('/healthz')
  t.equal(health.statusCode, 200)

  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.equal(ready.headers['retry-after'], '5')
  t.equal(ready.json().status, 'unavailable')
  t.match(ready.json().checks.store, /.+/)

  const route = await app.inject('/needs-state')
  t.equal(route.statusCode, 503)
  t.equal(route.headers['retry-after'], '5')
  t.equal(route.json().code, 'KIT_STORE_UNAVAILABLE')
})
