import t from 'tap'
import { Writable } from 'node:stream'
import { capabilityFingerprint, createServer } from '@ltilaunch/service-kit'
import { redisStoreForTest, testRedisUrl } from '@ltilaunch/service-kit/testing'
import fp from 'fastify-plugin'
import app from '../../src/app.js'
import { readConfig } from '../../src/config.js'
import { launchRequest, postLaunch, SERVICE_TOKEN, TEST_ENV, waitForLaunch } from '../helper.js'

t.test('a launch id appears in no log line: intake, worker, API, page, events, retry, 404s', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({
    write (chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    }
  })
  const store = await redisStoreForTest(t, 'spawner-broker')
  if (store === undefined) throw new Error('this test needs Redis')
  const config = readConfig({ ...TEST_ENV, LOG_LEVEL: 'trace', REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: store.prefix })
  const server = createServer({ service: 'spawner-broker', config, logStream })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => await server.close())

  const accepted = await postLaunch(server, launchRequest())
  t.equal(accepted.statusCode, 201)
  const id = accepted.json().id as string
  await waitForLaunch(server, id)
  const bearer = { authorization: `Bearer ${SERVICE_TOKEN}` }
  t.equal((await server.inject({ url: `/v1/launches/${id}`, headers: bearer })).statusCode, 200)
  t.equal((await server.inject({ url: `/launches/${id}`, headers: { accept: 'text/html' } })).statusCode, 200)
  await server.inject({ url: `/launches/${id}/events` })
  await server.inject({ method: 'POST', url: `/launches/${id}/retry`, payload: { token: 'wrong' } })
  await server.inject({ url: `/launches/${id}/nowhere` })
  await server.inject({ url: `/v1/launches/${id}x`, headers: bearer })
  await server.inject({ url: `/launches/${id}/%zz` })
  await server.inject({ url: `/launches/${id}${'y'.repeat(120)}` })

  const out = lines.join('')
  t.ok(lines.length > 10, `${lines.length} log lines`)
  t.notMatch(out, id, 'the launch id is in no log line')
  t.match(out, capabilityFingerprint(id), 'its fingerprint is, to follow the launch')
  t.match(out, '/launches/[id]')
})
