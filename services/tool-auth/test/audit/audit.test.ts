import { auditEventProblems, type AuditEvent } from '@ltilaunch/service-kit'
import { auditStreamEvents, logCapture, redisStoreForTest } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { startBroker } from '../support/broker.js'
import { Browser, formOf } from '../support/browser.js'
import { baseOf, browserLaunch, HUB_CALLBACK, HUB_SECRET, hubLogin, toolFor } from '../support/flow.js'
import { startPlatform } from '../support/platform.js'

/*
 * The audit trail of tool-auth: a launch, the hub's login and a replayed
 * code, and refused launches each leave one event of the documented schema,
 * on stdout and in the stream, and none carries a token, code, state or
 * launch id.
 */

t.test('a launch, the hub login and refusals leave schema-valid audit events on stdout and in the stream, without secrets', async (t) => {
  const store = await redisStoreForTest(t, 'tool-audit')
  if (store === undefined) return
  const key = `${store.prefix}audit`
  const log = logCapture()
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url, AUDIT_STREAM: key, LOG_LEVEL: 'warn' }, [], { store, logStream: log.stream })
  const tool = baseOf(app)
  platform.authorizeClaims = (nonce) => platform.claims(nonce, {}, { targetLinkUri: `${tool}/lti13/launch` })
  const secrets: string[] = [HUB_SECRET]

  const browser = new Browser()
  const callback = await browserLaunch(browser, tool, platform)
  t.equal(callback.status, 303)
  const hub = await hubLogin(browser, tool)
  t.equal(hub.tokenResponse?.status, 200)
  const code = hub.back?.searchParams.get('code') as string
  secrets.push(code, hub.token?.access_token as string, hub.token?.refresh_token as string, 'launch-1', browser.cookie(new URL(tool).host, 'ltilaunch_session') as string)
  // The hub's code used twice: refused, and the tokens it gave are revoked.
  const replay = await fetch(`${tool}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`jupyterhub:${HUB_SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: HUB_CALLBACK }).toString()
  })
  t.equal(replay.status, 400)

  // Refused launches: a state no login made, and a callback without the browser's state cookie (a page).
  const forged = await platform.sign(platform.claims('nonce-never-issued', {}, { targetLinkUri: `${tool}/lti13/launch` }))
  secrets.push(forged)
  const unknown = await new Browser().fetch(`${tool}/lti13/oauth_callback`, { form: { id_token: forged, state: 'no-such-state' }, headers: { accept: 'application/json', cookie: 'lti13_state=no-such-state' } })
  t.equal(unknown.status, 400)
  const begun = new Browser()
  const login = await begun.fetch(`${tool}/lti13/oauth_login`, { form: { iss: platform.issuer, login_hint: 'hint', target_link_uri: `${tool}/lti13/launch`, lti_message_hint: 'm2', client_id: platform.clientId } })
  const form = formOf(await (await begun.fetch(login.headers.get('location') as string)).text())
  secrets.push(form.fields.id_token as string, form.fields.state as string)
  const unbound = await new Browser().fetch(form.action, { form: form.fields })
  t.equal(unbound.status, 403)
  // A login whose token does not verify (signed for another nonce): refused after the state told us the platform.
  const again = await begun.fetch(`${tool}/lti13/oauth_login`, { form: { iss: platform.issuer, login_hint: 'hint', target_link_uri: `${tool}/lti13/launch`, lti_message_hint: 'm3', client_id: platform.clientId } })
  const third = formOf(await (await begun.fetch(again.headers.get('location') as string)).text())
  secrets.push(third.fields.id_token as string, third.fields.state as string)
  const mismatch = await begun.fetch(third.action, { form: { ...third.fields, id_token: forged }, headers: { accept: 'application/json' } })
  t.equal(mismatch.status, 400, await mismatch.clone().text())
  await app.audit.flush()

  const events = log.audit()
  t.same(events.map((event) => [event.type, event.outcome, event.error_code]), [
    ['tool.launch', 'success', undefined],
    ['tool.hub.code', 'success', undefined],
    ['tool.hub.token', 'success', undefined],
    ['tool.hub.token', 'failure', 'invalid_grant'],
    ['tool.hub.revoked', 'success', undefined],
    ['tool.launch', 'failure', 'TOOL_AUTH_STATE_UNKNOWN'],
    ['tool.launch', 'failure', 'TOOL_AUTH_LAUNCH_UNBOUND'],
    ['tool.launch', 'failure', 'TOOL_AUTH_NONCE_MISMATCH']
  ])
  for (const event of events) t.same(auditEventProblems(event), [], `${event.type} ${event.outcome} matches the schema`)
  const [launched, codeIssued, tokens] = events as [AuditEvent, AuditEvent, AuditEvent]
  t.match(launched, {
    service: 'tool-auth',
    actor: { issuer: platform.issuer, sub: 'user-sub-1', username: 'ada@example.org', role: 'learner' },
    target: { client_id: platform.clientId, deployment_id: platform.deploymentId, context_id: 'course-42', resource_link_id: 'link-1', image: 'scipy' },
    client_address: '127.0.0.1'
  })
  t.match(codeIssued, { actor: { issuer: platform.issuer, sub: 'user-sub-1' }, target: { client_id: 'jupyterhub', username: 'ada@example.org' } })
  t.match(tokens, { actor: { client_id: 'jupyterhub' }, target: { username: 'ada@example.org' } })
  t.notOk(events[6]?.actor, 'a refusal before the state is read names no one')
  t.match(events[7], { actor: { issuer: platform.issuer }, target: { client_id: platform.clientId } }, 'a refusal names what was known when it came')
  t.notOk(events[7]?.actor?.sub, 'no sub from a token that did not verify')

  t.same(await auditStreamEvents(store.redis, key), events, 'the stream holds the same events')

  const written = JSON.stringify(log.lines)
  for (const secret of secrets) t.notOk(JSON.stringify(events).includes(secret), `no audit event carries ${secret.slice(0, 6)}…`)
  t.ok(written.length > 0)
})
