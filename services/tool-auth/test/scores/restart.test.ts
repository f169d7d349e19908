import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { serverNameFor } from '@ltilaunch/claims'
import { createRedisClient, RedisStore, waitForRedis } from '@ltilaunch/service-kit'
import { redisStoreForTest, testRedisUrl } from '@ltilaunch/service-kit/testing'
import type { JWK } from 'jose'
import t, { type Test } from 'tap'
import { LaunchServicesRepository } from '../../src/lib/launch-services.js'
import { TEST_ENV } from '../helper.js'
import { startAdvantageStub, startFakeHubApi } from '../support/advantage.js'

// Two service processes start here; on a busy machine each takes seconds.
t.setTimeout(240_000)

const SERVER = fileURLToPath(new URL('../../dist/server.js', import.meta.url))
const REDIS_SERVER = process.env.LTILAUNCH_REDIS_SERVER ?? '/usr/bin/redis-server'
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** tool-auth as its own process (dist/server.js), until the test ends or it is killed. */
async function startToolAuth (env: Record<string, string>): Promise<{ child: ChildProcess, url: string }> {
  const port = await freePort()
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const url = `http://127.0.0.1:${port}`
  // Generous: a busy machine takes seconds to start a Node service.
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`tool-auth exited: ${stderr}`)
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url }
    } catch {}
    await sleep(50)
  }
  child.kill('SIGKILL')
  throw new Error(`tool-auth did not become ready: ${stderr}`)
}

interface ScenarioOptions {
  /** The Redis the processes use, and the key prefix of this run. */
  redisUrl: string
  prefix: string
  store: RedisStore
  /** Runs while the score waits and tool-auth is down (a Redis restart, say). */
  whileDown?: () => Promise<void>
}

/**
 * A learner's score is accepted while the platform is down; tool-auth is
 * killed (SIGKILL) with the score queued; `whileDown` runs; a new tool-auth
 * process posts it once the platform is back, exactly once.
 */
async function queuedScoreScenario (t: Test, options: ScenarioOptions): Promise<void> {
  let jwks: { keys: JWK[] } = { keys: [] }
  const stub = await startAdvantageStub(t, { clientId: 'tool-client-1', toolJwks: () => jwks })
  const hub = await startFakeHubApi(t)
  const issuer = stub.url
  const env: Record<string, string> = {
    ...TEST_ENV,
    issuer,
    client_id: 'tool-client-1',
    authorize_url: `${issuer}/authorize`,
    jwks_endpoint: `${issuer}/jwks`,
    token_url: stub.tokenUrl,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.prefix,
    HUB_API_URL: hub.apiUrl,
    SCORE_CLAIM_IDLE_MS: '300',
    SCORE_RETRY_BASE_MS: '100',
    SCORE_RETRY_MAX_MS: '200',
    SCORE_MAX_ATTEMPTS: '50'
  }
  // The learner's launch, as the callback keeps it (the launch itself is tested elsewhere).
  const serverName = serverNameFor({ id: 'course-42', label: 'DS101' }, true)
  await new LaunchServicesRepository(options.store, 3600).save({
    issuer,
    clientId: 'tool-client-1',
    deploymentId: 'deployment-1',
    sub: 'sub-ada',
    username: 'ada@example.org',
    contextId: 'course-42',
    contextLabel: 'DS101',
    serverName,
    role: 'learner',
    namespace: { prefix: '', suffix: '' },
    ags: { scope: ['https://purl.imsglobal.org/spec/lti-ags/scope/score'], lineitem: `${stub.url}/lineitems/1/lineitem` },
    launchedAt: Date.now()
  })
  hub.serverToken('tok-ada', 'ada@example.org', serverName)
  const headers = { authorization: 'token tok-ada', 'content-type': 'application/json' }

  const first = await startToolAuth(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  jwks = await (await fetch(`${first.url}/lti13/jwks`)).json() as { keys: JWK[] }
  stub.scoreMode = 'down'
  const accepted = await fetch(`${first.url}/scores`, { method: 'POST', headers, body: JSON.stringify({ scoreGiven: 9, scoreMaximum: 10 }) })
  t.equal(accepted.status, 202)
  const id = (await accepted.json() as { id: string }).id
  let state: Record<string, unknown> = {}
  for (let i = 0; i < 600 && !((state.attempts as number) >= 1); i++) {
    state = await (await fetch(`${first.url}/scores/${id}`, { headers })).json() as Record<string, unknown>
    await sleep(50)
  }
  t.equal(state.state, 'queued', 'the platform is down: the score waits')
  t.ok((state.attempts as number) >= 1)
  first.child.kill('SIGKILL')
  await once(first.child, 'exit')
  await options.whileDown?.()

  stub.scoreMode = 'ok'
  const second = await startToolAuth(env)
  t.teardown(() => { second.child.kill('SIGKILL') })
  for (let i = 0; i < 600 && state.state !== 'sent' && state.state !== 'failed'; i++) {
    await sleep(50)
    const res = await fetch(`${second.url}/scores/${id}`, { headers })
    if (res.status === 200) state = await res.json() as Record<string, unknown>
  }
  t.equal(state.state, 'sent', 'the new process posted it')
  t.equal(stub.scores.length, 1, 'once')
  t.equal(stub.scores[0]?.body.userId, 'sub-ada')
  second.child.kill('SIGTERM')
  await once(second.child, 'exit')
}

const unbuilt = existsSync(SERVER) ? false : 'build tool-auth first (dist/server.js)'

t.test('a queued score survives a tool-auth crash: another process posts it once the platform is back', { skip: unbuilt }, async (t) => {
  const store = await redisStoreForTest(t, 'tool-auth-scores-restart')
  if (store === undefined) return
  await queuedScoreScenario(t, { redisUrl: testRedisUrl(), prefix: store.prefix, store })
})

/** A redis-server of this test's own, with the append-only file written at every command, in a directory that outlives a restart. */
async function startAofRedis (t: Test, dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' })
  t.teardown(() => { child.kill('SIGKILL') })
  // Ready (not LOADING) also means the append-only file has been read back.
  const probe = createRedisClient({ REDIS_URL: `redis://127.0.0.1:${port}` })
  try {
    for (let i = 0; i < 100; i++) {
      if (await waitForRedis(probe, 100) && await probe.ping().catch(() => '') === 'PONG') return child
      await sleep(50)
    }
  } finally {
    probe.disconnect()
  }
  throw new Error(`${REDIS_SERVER} did not answer on port ${port}`)
}

t.test('a queued score survives a Redis restart with AOF as well as the tool-auth crash: nothing of it lived only in a process', { skip: unbuilt || (existsSync(REDIS_SERVER) ? false : `no ${REDIS_SERVER}`) }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ltilaunch-aof-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const port = await freePort()
  let redisServer = await startAofRedis(t, dir, port)
  const redisUrl = `redis://127.0.0.1:${port}`
  const redis = createRedisClient({ REDIS_URL: redisUrl })
  t.teardown(() => { redis.disconnect() })
  t.ok(await waitForRedis(redis), 'the test\'s own Redis answers')
  await queuedScoreScenario(t, {
    redisUrl,
    prefix: 'ltilaunch:aof-test:',
    store: new RedisStore(redis, { prefix: 'ltilaunch:aof-test:' }),
    whileDown: async () => {
      // Killed, not shut down: only what the append-only file holds comes back.
      redisServer.kill('SIGKILL')
      await once(redisServer, 'exit')
      redisServer = await startAofRedis(t, dir, port)
    }
  })
})
