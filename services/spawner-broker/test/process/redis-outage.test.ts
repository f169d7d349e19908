import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRedisClient, createServer, RedisStore } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import t from 'tap'
import app from '../../src/app.js'
import { readConfig } from '../../src/config.js'
import { fakeHubForTest } from '../fake-hub.js'
import { deadPort, launchRequest, postLaunch, TEST_ENV, waitForLaunch, type App } from '../helper.js'

/**
 * Redis stops answering in the middle of a spawn (a redis-server of this
 * test's own, frozen with SIGSTOP): intake answers 503, the worker keeps the
 * launch queued, and when Redis answers again the launch is finished without
 * a second server start.
 */
t.test('a Redis outage mid-spawn loses nothing', { timeout: 60_000 }, async (t) => {
  const port = await deadPort()
  const dir = mkdtempSync(join(tmpdir(), 'broker-redis-'))
  let server
  try {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  } catch {
    t.pass('skipped: no redis-server binary')
    return
  }
  const redisServer = server
  const spawnFailed = await new Promise<boolean>((resolve) => {
    redisServer.once('error', () => resolve(true))
    setTimeout(() => resolve(false), 300)
  })
  if (spawnFailed) {
    t.pass('skipped: no redis-server binary')
    return
  }
  t.teardown(async () => {
    redisServer.kill('SIGCONT')
    redisServer.kill('SIGTERM')
    await new Promise((resolve) => redisServer.once('exit', resolve))
  })
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, { lazyConnect: true })
  for (let i = 0; i < 50; i++) {
    try {
      await probe.connect()
      break
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  probe.disconnect()

  const hub = await fakeHubForTest(t, { spawnMs: 60_000 })
  const config = readConfig({
    ...TEST_ENV,
    REDIS_URL: url,
    HUB_URL: hub.url,
    HUB_API_TOKEN: hub.options.token,
    QUEUE_CLAIM_IDLE_MS: '500'
  })
  const store = new RedisStore(createRedisClient({ REDIS_URL: url }), { prefix: 'outage:' })
  const broker = createServer({ service: 'spawner-broker', config, logger: false })
  await broker.register(fp(app), { config, store })
  await broker.ready()
  t.teardown(async () => {
    await broker.close()
    await store.close()
  })
  const brokerApp = broker as unknown as App

  const res = await postLaunch(brokerApp, launchRequest({ username: 'weathered' }))
  t.equal(res.statusCode, 201)
  const id = res.json().id
  for (let i = 0; i < 200 && hub.starts.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25))
  t.equal(hub.starts.length, 1, 'the spawn is under way')

  redisServer.kill('SIGSTOP')
  // The spawn finishes on the hub while Redis is away: the worker cannot record it.
  hub.finishSpawn('weathered', '')
  const refused = await postLaunch(brokerApp, launchRequest({ username: 'latecomer' }))
  t.equal(refused.statusCode, 503, 'intake says to come back later')
  t.ok(refused.headers['retry-after'])
  // Longer than a command may wait (2 s): the worker's writes fail, as in a real outage.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  redisServer.kill('SIGCONT')

  const record = await waitForLaunch(brokerApp, id, undefined, 20_000)
  t.equal(record.status, 'ready', 'finished once Redis answered again')
  t.equal(hub.starts.length, 1, 'without a second server start')
  // Its queue entry was kept through the outage and is acknowledged now (by a retaken worker, or
  // after a write that timed out on our side but landed once Redis woke up).
  const redis = new Redis(url)
  t.teardown(() => redis.disconnect())
  let pending = -1
  for (let i = 0; i < 100 && pending !== 0; i++) {
    const reply = await redis.call('XPENDING', 'ltilaunch:spawner-broker:launches', 'spawners') as [number | string]
    pending = Number(reply[0])
    if (pending !== 0) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(pending, 0, 'nothing left pending on the stream')
  const ready = await broker.inject('/readyz')
  t.equal(ready.statusCode, 200)
})
