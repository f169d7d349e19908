import { createServer, StoreUnavailableError, type Store } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import t from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'
import { build, TEST_ENV } from './helper.js'
import { startPlatform, TARGET } from './support/platform.js'

t.test('login, callback and token are rate limited per client, with a TOOL_AUTH code', async (t) => {
  const platform = await startPlatform(t)
  const server = await build(t, { env: { ...platform.env, RATE_LIMIT_MAX: '2' } })
  const url = `/lti13/oauth_login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }).toString()}`
  t.equal((await server.inject(url)).statusCode, 302)
  t.equal((await server.inject(url)).statusCode, 302)
  const limited = await server.inject(url)
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'TOOL_AUTH_RATE_LIMITED')
  t.equal((await server.inject('/lti13/config')).statusCode, 200, 'other routes are not limited')
})

t.test('Redis down: a login is a 503 with Retry-After, not a 500', async (t) => {
  const platform = await startPlatform(t)
  const config = readConfig({ ...TEST_ENV, ...platform.env })
  // What RedisStore does while Redis is away: every command fails with StoreUnavailableError.
  const down = async (): Promise<never> => { throw new StoreUnavailableError('connection refused') }
  const store: Store = { kind: 'redis', put: down, take: down, claim: down, putNew: down, get: down, set: down, delete: down, batch: down, mapSet: down, mapEntries: down, mapDelete: down, ping: down, close: async () => {} }
  const server = createServer({ service: 'tool-auth', config, logger: false })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => await server.close())
  const res = await server.inject(`/lti13/oauth_login?${new URLSearchParams({ iss: platform.issuer, login_hint: 'h', target_link_uri: TARGET }).toString()}`)
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'TOOL_AUTH_STORE_UNAVAILABLE')
  t.ok(res.headers['retry-after'])
  t.notOk(res.cookies.some((c) => c.name === 'lti13_state'), 'no state cookie for a state that was not stored')
})
