import { metricSamples, metricValue, scrapeMetrics } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { startBroker } from './support/broker.js'
import { Browser } from './support/browser.js'
import { baseOf, browserLaunch, hubLogin, toolFor } from './support/flow.js'
import { startPlatform } from './support/platform.js'

/*
 * tool-auth's series after real requests (a real platform, real RS256
 * tokens and JWKS, a broker over HTTP), read from the metrics listener.
 */

t.test('after a launch and the hub\'s login, the launch, step, JWKS and OAuth series are there, by issuer', async (t) => {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url, METRICS_PORT: '0' })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const browser = new Browser()
  const callback = await browserLaunch(browser, tool, platform)
  t.equal(callback.status, 303, 'the launch is accepted')
  const hub = await hubLogin(browser, tool)
  t.equal(hub.tokenResponse?.status, 200)

  const text = await scrapeMetrics(app)
  const issuer = platform.issuer
  t.equal(metricValue(text, 'ltilaunch_logins_total', { outcome: 'accepted', code: 'none', issuer }), 1)
  t.equal(metricValue(text, 'ltilaunch_launches_total', { outcome: 'accepted', code: 'none', issuer }), 1)
  t.equal(metricValue(text, 'ltilaunch_launch_step_duration_seconds_count', { step: 'login', outcome: 'accepted' }), 1)
  t.equal(metricValue(text, 'ltilaunch_launch_step_duration_seconds_count', { step: 'callback', outcome: 'accepted' }), 1)
  t.equal(metricValue(text, 'ltilaunch_jwks_fetches_total', { issuer, outcome: 'ok' }), 1)
  for (const endpoint of ['authorize', 'token', 'userinfo']) {
    t.ok(metricValue(text, 'ltilaunch_oauth_requests_total', { endpoint }) >= 1, `the hub's ${endpoint} call`)
  }
  t.equal(metricValue(text, 'ltilaunch_oauth_requests_total', { endpoint: 'token', status_code: '200' }), 1)
  t.equal(metricValue(text, 'ltilaunch_http_request_duration_seconds_count', { route: '/lti13/oauth_callback', method: 'POST', status_code: '303' }), 1)
  t.ok(metricValue(text, 'ltilaunch_store_operation_duration_seconds_count', { store: 'redis' }) > 0, 'Redis round trips are timed')
  // Nothing that names a person, a course or a launch.
  t.notMatch(text, /ada@example\.org|user-sub-1|course-42|launch-1/)
})

t.test('a refused launch counts its error code; a JWKS that fails counts against its issuer', async (t) => {
  const platform = await startPlatform(t)
  const app = await toolFor(t, [platform], { METRICS_PORT: '0' })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  // The platform's keys are away: the token cannot be verified.
  platform.jwksMode = 'fail'
  const callback = await browserLaunch(new Browser(), tool, platform)
  t.equal(callback.status, 503)
  // A callback whose state is unknown: refused, and no issuer vouched for it.
  const stray = await fetch(`${tool}/lti13/oauth_callback`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'id_token=x.y.z&state=nope' })
  t.equal(stray.status, 400)

  const text = await scrapeMetrics(app)
  t.equal(metricValue(text, 'ltilaunch_jwks_fetches_total', { issuer: platform.issuer, outcome: 'error' }), 1)
  t.equal(metricValue(text, 'ltilaunch_launches_total', { outcome: 'failed', code: 'TOOL_AUTH_JWKS_UNAVAILABLE', issuer: platform.issuer }), 1)
  t.equal(metricValue(text, 'ltilaunch_launches_total', { outcome: 'refused', issuer: 'unknown' }), 1)
})

t.test('100 bogus issuers make one "unknown" series, not 100', async (t) => {
  const platform = await startPlatform(t)
  const app = await toolFor(t, [platform], { METRICS_PORT: '0' })
  const tool = baseOf(app)
  for (let i = 0; i < 100; i++) {
    const query = new URLSearchParams({ iss: `https://attacker-${i}.example`, login_hint: 'x', target_link_uri: `${tool}/lti13/launch`, client_id: `client-${i}` })
    const res = await fetch(`${tool}/lti13/login?${query.toString()}`, { headers: { accept: 'application/json' }, redirect: 'manual' })
    t.equal(res.status, 400)
    await res.arrayBuffer()
  }
  const text = await scrapeMetrics(app)
  const logins = metricSamples(text, 'ltilaunch_logins_total')
  t.equal(logins.length, 1, 'one series')
  t.same(logins[0]?.labels, { outcome: 'refused', code: 'TOOL_AUTH_ISSUER_UNKNOWN', issuer: 'unknown' })
  t.equal(logins[0]?.value, 100)
  t.notMatch(text, /attacker-|client-\d/, 'no bogus issuer or client id in any label')
  t.equal(metricSamples(text, 'ltilaunch_jwks_fetches_total').length, 0, 'nothing fetched for them')
})
