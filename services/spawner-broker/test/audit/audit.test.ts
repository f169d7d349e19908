import { auditEventProblems } from '@ltilaunch/service-kit'
import { auditStreamEvents, logCapture } from '@ltilaunch/service-kit/testing'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { fakeHubForTest } from '../fake-hub.js'
import { build, launchRequest, postLaunch, SCIPY, waitForLaunch } from '../helper.js'

/*
 * The broker's audit trail: an accepted launch and its server, a launch the
 * image policy refuses, a caller without the service token, and the admin
 * flag set on a hub user each leave one schema-valid event on stdout and in
 * the stream, and none carries the launch id (the progress page's capability).
 */

t.test('launches accepted and refused, the server started and the admin flag set leave schema-valid audit events without launch ids', async (t) => {
  const hub = await fakeHubForTest(t)
  const log = logCapture()
  const stream = `ltilaunch-test:broker-audit:${process.pid}:audit`
  const app = await build(t, {
    env: { HUB_URL: hub.url, HUB_PUBLIC_URL: 'https://hub.example.org', HUB_API_TOKEN: hub.options.token, HUB_SYNC_ADMIN: 'true', AUDIT_STREAM: stream },
    logStream: log.stream
  })
  t.teardown(async () => { await (app.store as unknown as { redis: { del: (key: string) => Promise<number> } }).redis.del(stream) })

  const accepted = await postLaunch(app, launchRequest({ username: 'prof', role: 'staff', isAdmin: true, image: 'scipy' }))
  t.equal(accepted.statusCode, 201)
  const id = accepted.json().id as string
  t.equal((await waitForLaunch(app, id)).status, 'ready')
  // The worker records the server's start once the queue entry is acknowledged, just after the record says ready.
  for (let i = 0; i < 200 && !log.audit().some((event) => event.type === 'broker.server'); i++) await sleep(25)
  const refused = await postLaunch(app, launchRequest({ image: 'docker.io/evil/miner:latest' }))
  t.equal(refused.statusCode, 422)
  const stranger = await postLaunch(app, launchRequest(), { token: 'not-the-token' })
  t.equal(stranger.statusCode, 401)
  await app.audit.flush()

  const events = log.audit()
  t.same(events.map((event) => [event.type, event.outcome, event.error_code]), [
    ['broker.launch', 'success', undefined],
    ['broker.admin_flag', 'success', undefined],
    ['broker.server', 'success', undefined],
    ['broker.launch', 'failure', 'BROKER_IMAGE_NOT_ALLOWED'],
    ['broker.launch', 'failure', stranger.json().code]
  ])
  for (const event of events) t.same(auditEventProblems(event), [], `${event.type} ${event.outcome} matches the schema`)
  t.match(events[0], { service: 'spawner-broker', actor: { username: 'prof', role: 'staff', issuer: 'http://localhost:3000' }, target: { image: SCIPY, context_id: 'course-1', client_id: 'ltilaunch-jupyterhub' } })
  t.match(events[1], { target: { username: 'prof', admin: true } })
  t.match(events[3], { actor: { sub: /^sub-/ }, target: { image: 'docker.io/evil/miner:latest' } }, 'a refused launch names who asked for what')
  t.notOk(events[4]?.actor, 'a caller without the token: no one is named from its body')
  t.same(await auditStreamEvents((app.store as unknown as { redis: Parameters<typeof auditStreamEvents>[0] }).redis, stream), events, 'the stream holds the same events')
  t.notOk(JSON.stringify(events).includes(id), 'no event carries the launch id')
})
