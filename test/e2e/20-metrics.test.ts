/**
 * Issue 16: after one real launch through the three services and an
 * unmodified hub, each service's metrics endpoint (a port of its own,
 * METRICS_PORT; the broker's also behind METRICS_TOKEN) shows the launch:
 * the platform's id_token, tool-auth's login and callback by outcome and
 * issuer, its JWKS fetch and the hub's OAuth2 calls, the broker's intake,
 * spawn and ready steps and hub API calls, Redis round trips everywhere, and
 * the process defaults. No label holds the user, the course or the launch id.
 */
import { metricSamples, metricValue } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { freePorts } from '../harness/processes.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, planStack, startStack } from './stack.js'

const plan = await planStack('s20')
const [platformMetrics, toolAuthMetrics, brokerMetrics] = await freePorts(3) as [number, number, number]
const brokerToken = 'e2e-metrics-token-0123456789'
const hub = await startJupyterHub(t, {
  name: 's20-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
const stack = await startStack(t, plan, {
  hub,
  env: {
    platform: { METRICS_PORT: String(platformMetrics) },
    toolAuth: { METRICS_PORT: String(toolAuthMetrics) },
    broker: { METRICS_PORT: String(brokerMetrics), METRICS_TOKEN: brokerToken }
  }
})

/** GET /metrics as Prometheus would. */
async function scrape (port: number, token?: string): Promise<{ status: number, text: string }> {
  const reply = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5000)
  })
  return { status: reply.status, text: await reply.text() }
}

t.test('after one launch, each service\'s metrics show it', async (t) => {
  const launch = await launchThroughStack(stack, 'ada', { course: 'ds101', image: IMAGES.minimal })
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  const id = launch.launchId ?? ''
  t.ok(id.length >= 16, 'the browser passed the broker\'s progress page')
  t.equal((await stack.brokerLaunch(id)).status, 'ready')

  const platform = await scrape(platformMetrics)
  t.equal(platform.status, 200)
  t.equal(metricValue(platform.text, 'ltilaunch_platform_launches_total', { kind: 'id_token', outcome: 'accepted' }), 1, 'platform: one id_token issued')

  const tool = await scrape(toolAuthMetrics)
  t.equal(tool.status, 200)
  const issuer = plan.platformUrl
  t.equal(metricValue(tool.text, 'ltilaunch_logins_total', { outcome: 'accepted', issuer }), 1, 'tool-auth: one login from the platform')
  t.equal(metricValue(tool.text, 'ltilaunch_launches_total', { outcome: 'accepted', code: 'none', issuer }), 1, 'tool-auth: one accepted launch')
  t.equal(metricValue(tool.text, 'ltilaunch_launch_step_duration_seconds_count', { step: 'callback' }), 1)
  t.equal(metricValue(tool.text, 'ltilaunch_jwks_fetches_total', { issuer, outcome: 'ok' }), 1, 'tool-auth: the platform\'s keys fetched once')
  t.equal(metricValue(tool.text, 'ltilaunch_oauth_requests_total', { endpoint: 'token', status_code: '200' }), 1, 'the hub redeemed its code')
  t.equal(metricValue(tool.text, 'ltilaunch_oauth_requests_total', { endpoint: 'userinfo', status_code: '200' }), 1, 'and read userinfo')
  t.ok(metricValue(tool.text, 'ltilaunch_store_operation_duration_seconds_count', { store: 'redis' }) > 0, 'tool-auth: Redis round trips')

  t.equal((await scrape(brokerMetrics)).status, 401, 'the broker\'s metrics need its METRICS_TOKEN')
  const broker = await scrape(brokerMetrics, brokerToken)
  t.equal(broker.status, 200)
  t.equal(metricValue(broker.text, 'ltilaunch_broker_intake_total', { outcome: 'created' }), 1, 'broker: one launch taken in')
  t.equal(metricValue(broker.text, 'ltilaunch_spawns_total', { outcome: 'ready' }), 1, 'broker: one ready server')
  for (const step of ['intake', 'spawn', 'ready']) {
    t.equal(metricValue(broker.text, 'ltilaunch_launch_step_duration_seconds_count', { step }), 1, `broker: the ${step} step`)
  }
  t.ok(metricValue(broker.text, 'ltilaunch_hub_requests_total', { method: 'POST', endpoint: '/users/:name/servers/:server' }) >= 1, 'broker: the hub was asked to start the named server')
  t.equal(metricValue(broker.text, 'ltilaunch_queue_entries'), 0, 'the queue is empty again')

  for (const [name, text] of [['platform', platform.text], ['tool-auth', tool.text], ['broker', broker.text]] as const) {
    t.ok(metricSamples(text, 'nodejs_eventloop_lag_seconds').length > 0 && metricSamples(text, 'nodejs_heap_size_used_bytes').length > 0, `${name}: process defaults`)
    t.notOk(text.includes(id), `${name}: no launch id`)
    t.notMatch(text, /ada@example|ds101|Data Science/i, `${name}: no user or course`)
  }
})
