import { setTimeout as sleep } from 'node:timers/promises'
import { createServer, type RedisStore } from '@ltilaunch/service-kit'
import { metricSamples, metricValue, scrapeMetrics, testRedisUrl } from '@ltilaunch/service-kit/testing'
import fp from 'fastify-plugin'
import t from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'
import { hubEndpoint } from '../src/plugins/metrics.js'
import { fakeHubForTest } from './fake-hub.js'
import { build, launchRequest, postLaunch, TEST_ENV, waitForLaunch, type App } from './helper.js'

/* The broker's series after real launches (dry run, and a hub over HTTP), read from the metrics listener. */

t.test('after a launch: intake by outcome, the spawn and ready steps, the queue gauges; no names', async (t) => {
  const app = await build(t, { env: { METRICS_PORT: '0' } })
  const request = launchRequest({ username: 'metrics-ada' })
  const first = await postLaunch(app, request, { key: 'metrics-key-1' })
  t.equal(first.statusCode, 201)
  t.equal((await postLaunch(app, request, { key: 'metrics-key-1' })).statusCode, 200, 'a repeat of the same request')
  const refused = await postLaunch(app, launchRequest({ image: 'not-an-allowed-image' }))
  t.equal(refused.statusCode, 422)
  const record = await waitForLaunch(app, first.json().id)
  t.equal(record.status, 'ready')

  const text = await scrapeMetrics(app)
  t.equal(metricValue(text, 'ltilaunch_broker_intake_total', { outcome: 'created', code: 'none' }), 1)
  t.equal(metricValue(text, 'ltilaunch_broker_intake_total', { outcome: 'repeated' }), 1)
  t.equal(metricValue(text, 'ltilaunch_broker_intake_total', { outcome: 'refused', code: refused.json().code }), 1)
  t.equal(metricValue(text, 'ltilaunch_launch_step_duration_seconds_count', { step: 'intake', outcome: 'created' }), 1)
  t.equal(metricValue(text, 'ltilaunch_launch_step_duration_seconds_count', { step: 'spawn', outcome: 'ready' }), 1)
  t.equal(metricValue(text, 'ltilaunch_launch_step_duration_seconds_count', { step: 'ready', outcome: 'ready' }), 1)
  t.equal(metricValue(text, 'ltilaunch_spawns_total', { outcome: 'ready' }), 1)
  for (const name of ['ltilaunch_queue_entries', 'ltilaunch_queue_pending_entries', 'ltilaunch_queue_oldest_entry_age_seconds', 'ltilaunch_worker_busy']) {
    t.equal(metricSamples(text, name).length, 1, `${name} is there`)
  }
  t.equal(metricValue(text, 'ltilaunch_queue_entries'), 0, 'the finished launch left the queue')
  t.equal(metricSamples(text, 'ltilaunch_http_request_duration_seconds_count').filter((s) => s.labels.route?.includes(first.json().id as string)).length, 0)
  t.notMatch(text, new RegExp(`metrics-ada|${first.json().id as string}`), 'no user or launch id anywhere')
})

t.test('the queue gauges count what waits, what is being worked on, and the oldest entry\'s age', async (t) => {
  for (const store of ['redis', 'memory'] as const) {
    // No worker: what is queued stays queued.
    const app = await build(t, { store, env: { METRICS_PORT: '0', WORKER_CONCURRENCY: '0' } })
    await app.workQueue.enqueue({ launchId: 'launch-a', attempt: 1 })
    await app.workQueue.enqueue({ launchId: 'launch-b', attempt: 1 })
    await app.workQueue.read(1, 0)
    const text = await scrapeMetrics(app)
    t.equal(metricValue(text, 'ltilaunch_queue_entries'), 2, `${store}: two entries`)
    t.equal(metricValue(text, 'ltilaunch_queue_pending_entries'), 1, `${store}: one delivered`)
    const age = metricValue(text, 'ltilaunch_queue_oldest_entry_age_seconds')
    t.ok(age >= 0 && age < 600, `${store}: the oldest entry's age is a plausible number of seconds (${age})`)
  }
})

t.test('hub API calls are counted by method, endpoint pattern and status, without user names', async (t) => {
  const hub = await fakeHubForTest(t)
  const app = await build(t, { env: { METRICS_PORT: '0', HUB_URL: hub.url, HUB_PUBLIC_URL: 'https://hub.example.org', HUB_API_TOKEN: hub.options.token } })
  const res = await postLaunch(app, launchRequest({ username: 'hubmetrics' }))
  t.equal(res.statusCode, 201)
  t.equal((await waitForLaunch(app, res.json().id)).status, 'ready')
  const text = await scrapeMetrics(app)
  t.equal(metricValue(text, 'ltilaunch_hub_requests_total', { method: 'GET', endpoint: '/users/:name', status: '404' }), 1, 'the user was looked up')
  t.equal(metricValue(text, 'ltilaunch_hub_requests_total', { method: 'POST', endpoint: '/users/:name', status: '201' }), 1, 'and created')
  t.ok(metricValue(text, 'ltilaunch_hub_requests_total', { method: 'POST', endpoint: '/users/:name/server' }) >= 1, 'the server was started')
  t.notMatch(text, /hubmetrics/)
})

t.test('a hub that does not answer is counted as unreachable', async (t) => {
  const app = await build(t, { env: { METRICS_PORT: '0', HUB_URL: 'http://127.0.0.1:9', HUB_API_TOKEN: 'token-0123456789abcdef', HUB_RETRIES: '0', SPAWN_TIMEOUT: '5' } })
  const res = await postLaunch(app, launchRequest())
  t.equal((await waitForLaunch(app, res.json().id)).status, 'failed')
  const text = await scrapeMetrics(app)
  t.ok(metricValue(text, 'ltilaunch_hub_requests_total', { status: 'unreachable' }) >= 1)
  t.equal(metricValue(text, 'ltilaunch_spawns_total', { outcome: 'failed' }), 1)
})

t.test('a broker that takes over a dead broker\'s launch counts the reclaim and the takeover', async (t) => {
  const hub = await fakeHubForTest(t, { spawnMs: 60_000 })
  const env = { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token, QUEUE_CLAIM_IDLE_MS: '300' }
  const first = await build(t, { env })
  const res = await postLaunch(first, launchRequest({ username: 'takeover' }))
  const id = res.json().id as string
  for (let i = 0; i < 200 && hub.starts.length === 0; i++) await sleep(25)
  t.equal(hub.starts.length, 1, 'the first broker began the spawn')
  await first.close()

  const store = first.store as RedisStore
  const config = readConfig({ ...TEST_ENV, ...env, METRICS_PORT: '0', REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: store.prefix })
  const second = createServer({ service: 'spawner-broker', config, logger: false })
  await second.register(fp(app), { config, store })
  await second.ready()
  t.teardown(async () => await second.close())
  await waitForLaunch(second as unknown as App, id, (r) => r.progress.some((p) => /Picked up again/.test(p.message)))
  hub.finishSpawn('takeover', '')
  t.equal((await waitForLaunch(second as unknown as App, id)).status, 'ready')

  const text = await scrapeMetrics(second)
  t.ok(metricValue(text, 'ltilaunch_queue_reclaimed_entries_total') >= 1, 'the entry was reclaimed')
  t.equal(metricValue(text, 'ltilaunch_queue_lease_takeovers_total'), 1, 'one takeover')
  t.equal(metricValue(text, 'ltilaunch_spawns_total', { outcome: 'ready' }), 1)
})

t.test('hub paths become patterns', async (t) => {
  t.equal(hubEndpoint('/users/ada'), '/users/:name')
  t.equal(hubEndpoint('/users/ada/servers/ds101/progress'), '/users/:name/servers/:server/progress')
  t.equal(hubEndpoint('/users/ada/server'), '/users/:name/server')
  t.equal(hubEndpoint('/groups/course-x/users'), '/groups/:name/users')
  t.equal(hubEndpoint('/users/ada?include_stopped_servers=1'), '/users/:name')
})
