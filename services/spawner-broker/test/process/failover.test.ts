import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { deletePrefix, redisReachable, redisRequired, testPrefix, testRedisUrl } from '@ltilaunch/service-kit/testing'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { fakeHubForTest } from '../fake-hub.js'
import { deadPort, launchRequest, SERVICE_TOKEN, TEST_ENV } from '../helper.js'

/**
 * Two real broker processes share one Redis stream. Broker A takes a slow
 * spawn and is killed (SIGKILL) in the middle of it; broker B must claim the
 * launch and finish it, without starting a second server on the hub.
 */

const serviceDir = fileURLToPath(new URL('../..', import.meta.url))

interface Broker {
  name: string
  child: ChildProcess
  url: string
  output: string[]
}

async function startBroker (t: Test, name: string, env: Record<string, string>): Promise<Broker> {
  const port = await deadPort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: serviceDir,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const broker: Broker = { name, child, url: `http://127.0.0.1:${port}`, output: [] }
  child.stdout?.on('data', (chunk: Buffer) => broker.output.push(chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => broker.output.push(chunk.toString()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      const res = await fetch(`${broker.url}/readyz`)
      if (res.status === 200) return broker
    } catch {}
    if (child.exitCode !== null) throw new Error(`${name} exited: ${broker.output.join('')}`)
    if (Date.now() > deadline) throw new Error(`${name} did not become ready: ${broker.output.join('')}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function until<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

t.test('a broker killed mid-spawn loses nothing: another broker process finishes the launch', { timeout: 60_000 }, async (t) => {
  if (!(await redisReachable())) {
    if (redisRequired()) throw new Error(`no Redis at ${testRedisUrl()}`)
    t.pass(`skipped: no Redis at ${testRedisUrl()}`)
    return
  }
  const prefix = testPrefix('broker-failover')
  const redis = new Redis(testRedisUrl())
  t.teardown(async () => {
    await deletePrefix(redis, prefix)
    await redis.quit()
  })
  // The spawn lasts until the test ends it, however slowly the processes start.
  const hub = await fakeHubForTest(t, { spawnMs: 120_000 })
  const env = {
    ...TEST_ENV,
    LOG_LEVEL: 'info',
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    HUB_URL: hub.url,
    HUB_API_TOKEN: hub.options.token,
    QUEUE_CLAIM_IDLE_MS: '1000',
    SHUTDOWN_GRACE_MS: '2000'
  }

  const a = await startBroker(t, 'A', env)
  const posted = await fetch(`${a.url}/v1/launches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'idempotency-key': 'failover-1', 'content-type': 'application/json' },
    body: JSON.stringify(launchRequest({ username: 'survivor', image: 'scipy' }))
  })
  t.equal(posted.status, 201)
  const { id } = await posted.json() as { id: string }

  // A has asked the hub to start the server and is following its progress.
  await until('broker A to start the spawn', async () => hub.starts.length === 1 ? true : undefined)
  const b = await startBroker(t, 'B', env)
  const status = async () => {
    const res = await fetch(`${b.url}/v1/launches/${id}`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } })
    return await res.json() as { status: string, progress: Array<{ message: string }>, serverUrl?: string }
  }
  t.equal((await status()).status, 'spawning', 'A is in the middle of the spawn')

  a.child.kill('SIGKILL')
  await new Promise((resolve) => a.child.once('exit', resolve))
  t.equal(a.child.signalCode, 'SIGKILL')

  // B claims the launch once A's entry has been idle QUEUE_CLAIM_IDLE_MS, and follows the pending spawn.
  const taken = await until('broker B to take the launch over', async () => {
    const r = await status()
    return r.progress.some((p) => /Picked up again/.test(p.message)) ? r : undefined
  })
  t.equal(taken.status, 'spawning')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(hub.finishSpawn('survivor', ''), 'the hub finishes the spawn A asked for')

  const record = await until('broker B to finish the launch', async () => {
    const r = await status()
    return r.status === 'ready' || r.status === 'failed' ? r : undefined
  })
  if (record.status !== 'ready') t.comment(b.output.join(''))
  t.equal(record.status, 'ready', 'B finished the launch')
  t.equal(record.serverUrl, `${hub.url}/user/survivor/`)
  t.ok(record.progress.some((p) => /Picked up again/.test(p.message)), 'the record says it was taken over')
  t.equal(hub.starts.length, 1, 'exactly one server start on the hub')
  t.same(hub.starts[0], { user: 'survivor', server: '', options: { image: 'quay.io/jupyter/scipy-notebook:latest' } })
  t.equal(hub.server('survivor', '')?.ready, true)
  t.match(b.output.join(''), /claimed a launch whose broker stopped answering/)

  // The entry left the stream's pending list: nothing is left to claim.
  const pending = await redis.call('XPENDING', `${prefix}launches`, 'spawners') as [number, ...unknown[]]
  t.equal(Number(pending[0]), 0, 'no pending entries')
})
