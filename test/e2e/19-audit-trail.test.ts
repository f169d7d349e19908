/**
 * Scenario 19: the audit trail across the three real processes (dry-run
 * driver, no hub). One accepted launch (ada) and one refused launch (grace
 * asks for an image the platform offers but the broker's policy refuses)
 * leave, in each service's stdout and in the one Redis Stream all three
 * write to (AUDIT_STREAM), the events of their outcome: each matches the
 * documented schema (docs/audit-event.schema.json), LOG_LEVEL=warn does not
 * silence them, and none holds the launch id, a token or the one-time URLs.
 */
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { auditEventProblems, type AuditEvent } from '@ltilaunch/service-kit'
import { auditStreamEvents } from '@ltilaunch/service-kit/testing'
import { Redis } from 'ioredis'
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { IMAGES, launchFormFields, ourToolRegistration, planStack, shownErrorCode, signIn, startStack, USERS } from './stack.js'

const DISALLOWED = 'docker.io/evil/miner:latest'
const plan = await planStack('s19')
const stream = `${plan.redisPrefix}audit`
const audited = { AUDIT_STREAM: stream, AUDIT_STREAM_MAXLEN: '1000', LOG_LEVEL: 'warn' }
const stack = await startStack(t, plan, {
  tools: [ourToolRegistration(plan, [{ value: DISALLOWED, label: 'Not allowed by the broker' }])],
  env: { platform: audited, toolAuth: audited, broker: audited }
})
const redis = new Redis(process.env.LTILAUNCH_TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
t.teardown(() => redis.quit())

/** The audit events in a service's log (stdout and stderr in one file; other lines are skipped). */
function loggedEvents (file: string): AuditEvent[] {
  return readFileSync(file, 'utf8').split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    const parsed = JSON.parse(line) as { audit?: boolean, event?: AuditEvent }
    return parsed.audit === true && parsed.event !== undefined ? [parsed.event] : []
  })
}

const summary = (event: AuditEvent): string => `${event.service} ${event.type} ${event.outcome}${event.error_code === undefined ? '' : ` ${event.error_code}`}`

t.test('an accepted and a refused launch leave their audit events, matching the schema, on stdout and in the stream', async (t) => {
  const launch = await launchThroughStack(stack, 'ada', { course: 'ds101', image: IMAGES.minimal }, { maxSteps: 20 })
  const id = launch.launchId ?? ''
  t.ok(id.length >= 16, `the browser reached the broker's progress page\n${stepsOf(launch)}`)
  for (let i = 0; i < 100 && (await stack.brokerLaunch(id)).status !== 'ready'; i++) await sleep(100)
  t.equal((await stack.brokerLaunch(id)).status, 'ready', 'the dry run finished')

  const client = new BrowserClient()
  const home = await signIn(client, plan.platformUrl, 'grace')
  const refused = await client.followLaunch(`${plan.platformUrl}/launch`, { method: 'POST', form: launchFormFields(home, { course: 'ds101', image: DISALLOWED }), initiator: home.url, refresh: true, maxSteps: 20 })
  t.equal(refused.page.status, 422, stepsOf(refused))
  t.equal(shownErrorCode(refused.page.body), 'TOOL_AUTH_IMAGE_REFUSED')

  // The broker records the server's start just after the launch record says ready.
  let streamed: AuditEvent[] = []
  for (let i = 0; i < 100; i++) {
    streamed = await auditStreamEvents(redis, stream)
    if (streamed.some((event) => event.type === 'broker.server')) break
    await sleep(100)
  }

  // A process's output reaches its log file a moment after the stream has the event.
  const readLogs = () => ({
    platform: loggedEvents(stack.platform.logFile),
    toolAuth: loggedEvents(stack.toolAuth?.logFile ?? ''),
    broker: loggedEvents(stack.broker?.logFile ?? '')
  })
  let logged = readLogs()
  for (let i = 0; i < 50 && Object.values(logged).flat().length < streamed.length; i++) {
    await sleep(100)
    logged = readLogs()
  }
  const ada = USERS.ada.email
  const grace = USERS.grace.email
  t.same(logged.platform.map(summary), ['platform platform.sign_in success', 'platform platform.launch success', 'platform platform.sign_in success', 'platform platform.launch success'], 'the platform: two sign-ins, two id_tokens')
  t.same(logged.toolAuth.map(summary), ['tool-auth tool.launch success', 'tool-auth tool.launch failure TOOL_AUTH_IMAGE_REFUSED'], 'tool-auth: one launch accepted, one refused with its code')
  // The server's start is recorded by the worker, the refusal by a request: their order is the machine's.
  t.same(logged.broker.map(summary).sort(), ['spawner-broker broker.launch failure BROKER_IMAGE_NOT_ALLOWED', 'spawner-broker broker.launch success', 'spawner-broker broker.server success'], 'the broker: accepted, refused by policy, the server started')
  t.match(logged.toolAuth[0], { actor: { username: ada, role: 'learner' }, target: { client_id: 'ltilaunch-jupyterhub', context_id: 'ds101', image: IMAGES.minimal } })
  t.match(logged.toolAuth[1], { actor: { issuer: plan.platformUrl } })
  t.match(logged.broker.find((event) => event.outcome === 'failure'), { actor: { username: grace, role: 'staff' }, target: { image: DISALLOWED } })
  t.equal(logged.toolAuth[0]?.actor?.sub, logged.broker[0]?.actor?.sub, 'tool-auth and the broker name the same (issuer, sub)')

  const all = [...logged.platform, ...logged.toolAuth, ...logged.broker]
  for (const event of all) t.same(auditEventProblems(event), [], `${summary(event)} matches the schema`)
  const key = (event: AuditEvent): string => JSON.stringify(event)
  t.same(streamed.map(key).sort(), all.map(key).sort(), 'the stream holds exactly the events of the three stdout logs')
  t.same(new Set(streamed.map((event) => event.service)), new Set(['platform', 'tool-auth', 'spawner-broker']))

  const text = JSON.stringify(streamed)
  t.notOk(text.includes(id), 'no event holds the launch id')
  t.notOk(/eyJ[A-Za-z0-9_-]{10,}\./.test(text), 'no event holds a JWT')
  t.notOk(/https?:\/\/[^"]*[?#]/.test(text), 'no event holds a URL with a query')
  t.notOk(/\/launches\//.test(text), 'no event holds a launch URL')
})
