import { createServer } from '@ltilaunch/service-kit'
import { redisStoreForTest } from '@ltilaunch/service-kit/testing'
import fp from 'fastify-plugin'
import t from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'
import { TEST_ENV } from './helper.js'
import { freshLaunch, login, postCallback } from './support/launch.js'
import { startPlatform } from './support/platform.js'

/*
 * Any replica can serve any step: state, nonces, sessions, codes and tokens
 * live in Redis, and one-time values are taken atomically, so racing
 * requests get exactly one winner.
 */

async function replicas (t: Parameters<typeof redisStoreForTest>[0] & { teardown: (fn: () => unknown) => void }, env: Record<string, string>, count = 2) {
  const config = readConfig({ ...TEST_ENV, ...env })
  const store = await redisStoreForTest(t, 'tool-auth-replicas')
  if (store === undefined) throw new Error('these tests need Redis')
  const servers = []
  for (let i = 0; i < count; i++) {
    const server = createServer({ service: 'tool-auth', config, logger: false })
    await server.register(fp(app), { config, store })
    await server.ready()
    t.teardown(async () => await server.close())
    servers.push(server)
  }
  return servers
}

const BASIC = `Basic ${Buffer.from(`jupyterhub:${TEST_ENV.HUB_CLIENT_SECRET}`).toString('base64')}`

t.test('login on one replica, callback, authorize, token and userinfo on the others', async (t) => {
  const platform = await startPlatform(t)
  const [a, b] = await replicas(t, platform.env)
  if (a === undefined || b === undefined) throw new Error('two replicas')
  const started = await login(a, platform)
  const res = await postCallback(b, { id_token: await platform.sign(platform.claims(started.nonce)), state: started.state, cookie: started.cookie })
  t.equal(res.statusCode, 303)
  const session = res.cookies.find((c) => c.name === 'ltilaunch_session')?.value
  const authorize = await a.inject({ url: `/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'jupyterhub', redirect_uri: TEST_ENV.HUB_REDIRECT_URI as string, state: 's' }).toString()}`, headers: { cookie: `ltilaunch_session=${session}` } })
  t.equal(authorize.statusCode, 302)
  const code = new URL(authorize.headers.location as string).searchParams.get('code') as string
  const token = await b.inject({ method: 'POST', url: '/oauth2/token', headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: TEST_ENV.HUB_REDIRECT_URI as string }).toString() })
  t.equal(token.statusCode, 200)
  const info = await a.inject({ url: '/oauth2/userinfo', headers: { authorization: `Bearer ${token.json().access_token}` } })
  t.equal(info.json().name, 'ada@example.org')
})

t.test('the same callback posted to two replicas at once: exactly one launch', async (t) => {
  const platform = await startPlatform(t)
  const [a, b] = await replicas(t, platform.env)
  if (a === undefined || b === undefined) throw new Error('two replicas')
  for (let round = 0; round < 5; round++) {
    const launch = await freshLaunch(a, platform)
    const input = { id_token: launch.idToken, state: launch.state, cookie: launch.cookie }
    const results = await Promise.all([postCallback(a, input), postCallback(b, input)])
    t.same(results.map((r) => r.statusCode).sort(), [303, 400], `round ${round}`)
    t.equal(results.find((r) => r.statusCode === 400)?.json().code, 'TOOL_AUTH_STATE_UNKNOWN')
  }
})

t.test('the same code redeemed at two replicas at once: no usable tokens come out of it', async (t) => {
  const platform = await startPlatform(t)
  const [a, b] = await replicas(t, platform.env)
  if (a === undefined || b === undefined) throw new Error('two replicas')
  const launch = await freshLaunch(a, platform)
  const res = await postCallback(a, { id_token: launch.idToken, state: launch.state, cookie: launch.cookie })
  const session = res.cookies.find((c) => c.name === 'ltilaunch_session')?.value
  const authorize = await a.inject({ url: `/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'jupyterhub', redirect_uri: TEST_ENV.HUB_REDIRECT_URI as string }).toString()}`, headers: { cookie: `ltilaunch_session=${session}` } })
  const code = new URL(authorize.headers.location as string).searchParams.get('code') as string
  const request = { method: 'POST' as const, url: '/oauth2/token', headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: TEST_ENV.HUB_REDIRECT_URI as string }).toString() }
  const results = await Promise.all([a.inject(request), b.inject(request)])
  t.ok(results.some((r) => r.statusCode === 400 && r.json().error === 'invalid_grant'), 'one is refused as a reuse')
  // The first may have got tokens just before the reuse revoked them, or been refused itself.
  for (const result of results.filter((r) => r.statusCode === 200)) {
    const info = await a.inject({ url: '/oauth2/userinfo', headers: { authorization: `Bearer ${result.json().access_token}` } })
    t.equal(info.statusCode, 401, 'tokens from a code presented twice are revoked')
    const refresh = await b.inject({ ...request, payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: result.json().refresh_token }).toString() })
    t.equal(refresh.json().error, 'invalid_grant')
  }
})
