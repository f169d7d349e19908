import t, { type Test } from 'tap'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { BaseConfigSchema, ConfigError, loadConfig } from '../src/config.js'
import { boundedLabel, UNKNOWN_LABEL } from '../src/metrics.js'
import serviceKit from '../src/plugins/service-kit.js'
import { createServer } from '../src/server.js'
import { RedisStore } from '../src/store/redis.js'
import type { Store } from '../src/store/store.js'
import { memoryStoreForTest, metricSamples, metricValue, redisStoreForTest, scrapeMetrics } from '../src/testing.js'

const TOKEN = 'metrics-token-0123456789'

async function build (t: Test, env: Record<string, string> = {}, store?: Store) {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', ...env })
  const app = createServer({ service: 'kit-test', config, logger: false })
  await app.register(fp(async (fastify) => {
    await fastify.register(serviceKit, { service: 'kit-test', errorPrefix: 'KIT', config, store: store ?? memoryStoreForTest(t) })
    fastify.get('/launches/:id', async (request) => ({ id: (request.params as { id: string }).id }))
    fastify.get('/busy', async (_request, reply) => await reply.code(429).send({ busy: true }))
    fastify.get('/remember', async () => {
      await fastify.store.set('a', 1, 30)
      return { got: await fastify.store.get('a') }
    })
  }))
  await app.ready()
  t.teardown(async () => await app.close())
  return app
}

t.test('the HTTP histogram labels routes by pattern, never by the URL a client sent', async (t) => {
  const app = await build(t, { METRICS_PORT: '0' })
  for (let i = 0; i < 20; i++) t.equal((await app.inject(`/launches/secret-launch-id-${i}`)).statusCode, 200)
  for (let i = 0; i < 20; i++) t.equal((await app.inject(`/probe-${i}`)).statusCode, 404)
  const text = await scrapeMetrics(app)
  t.equal(metricValue(text, 'ltilaunch_http_request_duration_seconds_count', { route: '/launches/:id', method: 'GET', status_code: '200' }), 20)
  t.equal(metricValue(text, 'ltilaunch_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }), 20)
  t.notMatch(text, /secret-launch-id|probe-/, 'no raw path in any label')
  const routes = new Set(metricSamples(text, 'ltilaunch_http_request_duration_seconds_count').map((sample) => sample.labels.route))
  t.same([...routes].sort(), ['/launches/:id', 'unmatched'])
})

t.test('the process defaults are there: event loop lag, heap, CPU', async (t) => {
  const app = await build(t, { METRICS_PORT: '0' })
  const text = await scrapeMetrics(app)
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_cpu_seconds_total']) {
    t.ok(metricSamples(text, name).length > 0, name)
  }
})

t.test('rate-limit refusals (429) are counted by route', async (t) => {
  const app = await build(t, { METRICS_PORT: '0' })
  await app.inject('/busy')
  await app.inject('/busy')
  t.equal(metricValue(await scrapeMetrics(app), 'ltilaunch_rate_limited_total', { route: '/busy' }), 2)
})

t.test('store round trips to a real Redis are timed by operation, and the store is still a RedisStore', async (t) => {
  const store = await redisStoreForTest(t, 'metrics')
  if (store === undefined) return
  const app = await build(t, { METRICS_PORT: '0' }, store)
  t.ok(app.store instanceof RedisStore, 'instanceof holds through the instrumentation')
  t.equal((app.store as RedisStore).prefix, store.prefix)
  t.same((await app.inject('/remember')).json(), { got: 1 })
  const text = await scrapeMetrics(app)
  t.equal(metricValue(text, 'ltilaunch_store_operation_duration_seconds_count', { operation: 'set', store: 'redis' }), 1)
  t.equal(metricValue(text, 'ltilaunch_store_operation_duration_seconds_count', { operation: 'get', store: 'redis' }), 1)
  t.equal(metricValue(text, 'ltilaunch_store_errors_total'), 0)
})

t.test('a Redis that does not answer is counted as store errors, and the request is a 503', async (t) => {
  const redis = new Redis('redis://127.0.0.1:9', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  const app = await build(t, { METRICS_PORT: '0' }, new RedisStore(redis, { prefix: 'ltilaunch-test:metrics-down:', ownsClient: false }))
  const res = await app.inject('/remember')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'KIT_STORE_UNAVAILABLE')
  t.equal(metricValue(await scrapeMetrics(app), 'ltilaunch_store_errors_total', { operation: 'set', store: 'redis' }), 1)
})

t.test('with METRICS_PORT the public port does not serve /metrics', async (t) => {
  const app = await build(t, { METRICS_PORT: '0' })
  t.equal((await app.inject('/metrics')).statusCode, 404)
  const address = app.metricsAddress()
  t.ok(address !== undefined && address.port > 0)
  const other = await fetch(`http://127.0.0.1:${address?.port ?? 0}/elsewhere`)
  t.equal(other.status, 404, 'the metrics listener serves /metrics only')
})

t.test('METRICS_TOKEN protects the metrics listener', async (t) => {
  const app = await build(t, { METRICS_PORT: '0', METRICS_TOKEN: TOKEN })
  const url = `http://127.0.0.1:${app.metricsAddress()?.port ?? 0}/metrics`
  t.equal((await fetch(url)).status, 401)
  t.equal((await fetch(url, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status, 401)
  t.equal((await fetch(url, { headers: { authorization: `Basic ${TOKEN}` } })).status, 401)
  const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(ok.status, 200)
  t.match(ok.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.match(await ok.text(), /ltilaunch_http_request_duration_seconds/)
})

t.test('METRICS_TOKEN without METRICS_PORT serves /metrics on the service port, behind the token', async (t) => {
  const app = await build(t, { METRICS_TOKEN: TOKEN })
  t.equal(app.metricsAddress(), undefined)
  const refused = await app.inject('/metrics')
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().code, 'KIT_METRICS_UNAUTHORIZED')
  t.equal(refused.headers['www-authenticate'], 'Bearer')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-wrong-token' } })).statusCode, 401)
  const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /nodejs_heap_size_used_bytes/)
})

t.test('without METRICS_PORT or METRICS_TOKEN nothing serves the metrics', async (t) => {
  const app = await build(t)
  t.equal((await app.inject('/metrics')).statusCode, 404)
  t.equal(app.metricsAddress(), undefined)
})

t.test('a short METRICS_TOKEN or a bad METRICS_PORT stops the start, by name', async (t) => {
  t.throws(() => loadConfig(BaseConfigSchema, { PORT: '0', METRICS_TOKEN: 'short' }), ConfigError)
  try {
    loadConfig(BaseConfigSchema, { PORT: '0', METRICS_PORT: '70000' })
    t.fail('accepted')
  } catch (err) {
    t.match((err as ConfigError).problems.join('\n'), /METRICS_PORT/)
  }
})

t.test('boundedLabel lets through only what is vouched for', async (t) => {
  const known = new Set(['https://lms.example.edu'])
  t.equal(boundedLabel('https://lms.example.edu', (v) => known.has(v)), 'https://lms.example.edu')
  t.equal(boundedLabel('https://attacker.example/1', (v) => known.has(v)), UNKNOWN_LABEL)
  t.equal(boundedLabel(undefined, () => true), UNKNOWN_LABEL)
  t.equal(boundedLabel('', () => true), UNKNOWN_LABEL)
})
