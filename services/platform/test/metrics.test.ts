import { metricValue } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { API_KEY, authorizeGet, authParams, Browser, build, formOf, TOOL } from './helper.js'

t.test('the platform counts id_tokens issued and launch API calls by outcome and code, on METRICS_TOKEN-protected /metrics', async (t) => {
  const token = 'platform-metrics-token-0123'
  const app = await build(t, { env: { METRICS_TOKEN: token } })
  const body = { user: { id: 'metrics-user-1', name: 'M', roles: ['Learner'] }, client_id: TOOL.clientId, context: { id: 'course-metrics', title: 'C' }, resource_link: { id: 'r1' } }
  const created = await app.inject({ method: 'POST', url: '/api/v1/launches', headers: { authorization: `Bearer ${API_KEY}` }, payload: body })
  t.equal(created.statusCode, 201)
  const refused = await app.inject({ method: 'POST', url: '/api/v1/launches', headers: { authorization: 'Bearer not-a-key-not-a-key' }, payload: body })
  t.equal(refused.statusCode, 401)
  const browser = new Browser(app)
  const go = await browser.get(new URL(created.json().launchUrl as string).pathname)
  const form = formOf((await authorizeGet(browser, authParams(Object.fromEntries(new URL(go.headers.location as string).searchParams)))).body)
  t.ok(form.fields.id_token, 'an id_token was issued')

  t.equal((await app.inject('/metrics')).statusCode, 401, 'not without the token')
  const text = (await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })).body
  t.equal(metricValue(text, 'ltilaunch_platform_launches_total', { kind: 'launch_api', outcome: 'accepted', code: 'none' }), 1)
  t.equal(metricValue(text, 'ltilaunch_platform_launches_total', { kind: 'launch_api', outcome: 'refused', code: refused.json().code }), 1)
  t.equal(metricValue(text, 'ltilaunch_platform_launches_total', { kind: 'id_token', outcome: 'accepted' }), 1)
  t.notMatch(text, /metrics-user-1|course-metrics|\/launches\/[A-Za-z0-9_-]{20,}/, 'no user, course or one-time link')
})
