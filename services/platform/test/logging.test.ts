import { Writable } from 'node:stream'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { loggerOptions } from '@ltilaunch/service-kit'
import { memoryStoreForTest } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'
import { API_KEY, authorizeGet, authParams, Browser, formOf, signIn, startLaunch, TEST_ENV } from './helper.js'

t.test('no one-time value, token, password or key reaches the log', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const config = readConfig({ ...TEST_ENV, LOG_LEVEL: 'info' })
  // The logger the service runs with (server.ts → the kit), writing here.
  const server = Fastify({ logger: { ...loggerOptions({ level: 'info', service: 'platform', pretty: false }), stream } })
  await server.register(fp(app), { config, store: memoryStoreForTest(t) })
  t.teardown(async () => await server.close())

  const browser = new Browser(server as never)
  await signIn(browser, 'ada')
  const login = await startLaunch(browser)
  const params = authParams(login)
  const token = formOf((await authorizeGet(browser, params)).body).fields.id_token as string
  const created = await server.inject({
    method: 'POST',
    url: '/api/v1/launches',
    headers: { authorization: `Bearer ${API_KEY}` },
    payload: { user: { id: 'u', roles: [] }, client_id: 'test-tool', resource_link: { id: 'r' } }
  })
  const ticket = (created.json().launchUrl as string).split('/').pop() as string
  await new Browser(server as never).get(`/launches/${ticket}`)

  const log = lines.join('')
  t.match(log, /id_token issued/, 'the log says what happened')
  t.match(log, /\/launches\/\[ticket\]/)
  for (const [what, secret] of [
    ['message hint', login.lti_message_hint], ['nonce', params.nonce], ['state', params.state], ['id_token', token],
    ['launch ticket', ticket], ['API key', API_KEY], ['password', 'ada-test-pw'], ['session cookie', browser.jar.get('ltilaunch_platform_session')]
  ] as const) {
    t.notOk(log.includes(secret as string), `no ${what} in the log`)
  }
})

t.test('the sign-in and launch pages cannot be framed by another site', async (t) => {
  const { build } = await import('./helper.js')
  const server = await build(t, { store: 'memory' })
  const browser = new Browser(server)
  const page = await browser.get('/login')
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/)
  await signIn(browser, 'ada')
  t.equal((await browser.get('/')).headers['x-frame-options'], 'DENY')
})

t.test('no client assertion, access token or webhook secret reaches the log', async (t) => {
  const { accessToken, assertion, call, keyServer, launch, score, SCORE_TYPE, tokenRequest, toolEntry } = await import('./lti-services.js')
  const { TEST_TOOLS } = await import('./helper.js')
  const keys = await keyServer(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const secret = 'logged-never-webhook-secret-0123456789'
  const config = readConfig({
    ...TEST_ENV,
    LOG_LEVEL: 'info',
    PLATFORM_TOOLS: JSON.stringify({ tools: [...TEST_TOOLS.tools, toolEntry('grader', keys.url('grader'))] }),
    PLATFORM_SCORE_WEBHOOK_URL: 'http://127.0.0.1:9/hooks',
    PLATFORM_SCORE_WEBHOOK_SECRET: secret
  })
  const server = Fastify({ logger: { ...loggerOptions({ level: 'info', service: 'platform', pretty: false }), stream } })
  await server.register(fp(app), { config, store: memoryStoreForTest(t) })
  t.teardown(async () => await server.close())
  const platform = server as never
  const claims = await launch(platform, 'ada', 'grader')
  const jwt = await assertion(keys.keys.grader as never, 'grader')
  t.equal((await tokenRequest(platform, jwt)).statusCode, 200)
  t.equal((await tokenRequest(platform, jwt)).statusCode, 401, 'a replay is refused, and logged')
  const token = await accessToken(platform, keys.keys.grader as never, 'grader')
  const lineItem = (claims['https://purl.imsglobal.org/spec/lti-ags/claim/endpoint'] as { lineitem: string }).lineitem
  t.equal((await call(platform, token, 'POST', `${lineItem}/scores`, score(claims.sub as string), SCORE_TYPE)).statusCode, 200)
  t.equal((await call(platform, 'a-wrong-token-value', 'GET', lineItem)).statusCode, 401)
  const log = lines.join('')
  t.match(log, /service access token issued/)
  t.match(log, /PLATFORM_TOKEN_ASSERTION_REPLAYED/)
  for (const [what, value] of [['client assertion', jwt], ['assertion signature', jwt.split('.')[2]], ['access token', token], ['refused token', 'a-wrong-token-value'], ['webhook secret', secret]] as const) {
    t.notOk(log.includes(value as string), `no ${what} in the log`)
  }
})
