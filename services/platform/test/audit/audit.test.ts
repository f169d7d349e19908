import { auditEventProblems } from '@ltilaunch/service-kit'
import { auditStreamEvents, logCapture, redisStoreForTest } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { API_KEY, authorizeGet, authParams, Browser, build, formOf, PASSWORDS, signIn, startLaunch, TOOL } from '../helper.js'

/*
 * The platform's audit trail: a refused and an accepted sign-in, an issued
 * id_token and a refused authorization request, and the host API, each leave
 * one schema-valid event on stdout and in the stream, carrying no token,
 * password, message hint or one-time URL.
 */

t.test('sign-ins, launches and the launch API leave schema-valid audit events without secrets', async (t) => {
  const store = await redisStoreForTest(t, 'platform-audit')
  if (store === undefined) return
  const key = `${store.prefix}audit`
  const log = logCapture()
  const app = await build(t, { store, env: { AUDIT_STREAM: key, REDIS_URL: 'redis://127.0.0.1:6379' }, logStream: log.stream })
  const secrets: string[] = [PASSWORDS.ada as string, 'wrong-password-123']

  const browser = new Browser(app)
  const form = formOf((await browser.get('/login')).body)
  t.equal((await browser.post('/login', { ...form.fields, username: 'ada', password: 'wrong-password-123' })).statusCode, 401, 'the form again, with the refusal')
  await signIn(browser, 'ada')
  const login = await startLaunch(browser)
  const params = authParams(login)
  const issued = await authorizeGet(browser, params)
  t.equal(issued.statusCode, 200)
  const idToken = formOf(issued.body).fields.id_token as string
  // The same message hint again: refused (to the tool, by a posted OIDC error).
  const refused = await authorizeGet(browser, authParams(login))
  t.equal(formOf(refused.body).fields.error, 'invalid_request')
  secrets.push(idToken, login.lti_message_hint as string, params.nonce as string, params.state as string, browser.jar.get('ltilaunch_platform_session') ?? '')

  const api = await app.inject({ method: 'POST', url: '/api/v1/launches', headers: { authorization: `Bearer ${API_KEY}` }, payload: { client_id: TOOL.clientId, user: { id: 'host-user-1', name: 'Host User' }, course: { id: 'ds101' } } })
  const apiRefused = await app.inject({ method: 'POST', url: '/api/v1/launches', headers: { authorization: 'Bearer not-a-key' }, payload: {} })
  t.equal(apiRefused.statusCode, 401)
  if (api.statusCode === 201) secrets.push(String(api.json().launchUrl).split('/').pop() as string)
  secrets.push(API_KEY)
  await app.audit.flush()

  const events = log.audit()
  t.same(events.map((event) => [event.type, event.outcome, event.error_code]), [
    ['platform.sign_in', 'failure', 'PLATFORM_INVALID_CREDENTIALS'],
    ['platform.sign_in', 'success', undefined],
    ['platform.launch', 'success', undefined],
    ['platform.launch', 'failure', 'invalid_request'],
    ['platform.launch_url', api.statusCode === 201 ? 'success' : 'failure', api.statusCode === 201 ? undefined : api.json().code],
    ['platform.launch_url', 'failure', apiRefused.json().code]
  ])
  for (const event of events) t.same(auditEventProblems(event), [], `${event.type} ${event.outcome} matches the schema`)
  t.match(events[0], { service: 'platform', actor: { username: 'ada' } }, 'a refused sign-in names the name tried')
  t.match(events[2], { actor: { sub: login.login_hint }, target: { client_id: TOOL.clientId, context_id: 'ds101' } })
  t.match(events[3], { target: { client_id: TOOL.clientId } })
  t.same(await auditStreamEvents(store.redis, key), events, 'the stream holds the same events')
  const text = JSON.stringify(events)
  for (const secret of secrets.filter((s) => s !== '')) t.notOk(text.includes(secret), `no audit event carries ${secret.slice(0, 6)}…`)
})
