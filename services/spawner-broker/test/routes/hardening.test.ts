import t from 'tap'
import { probeProtocolErrors, probeUnusableBodies } from '@ltilaunch/service-kit/testing'
import { createHash } from 'node:crypto'
import { build, launchRequest, postLaunch, waitForLaunch } from '../helper.js'

t.test('every route refuses every unusable body with a 4xx in the kit shape, never a 5xx', async (t) => {
  const app = await build(t)
  const { sent, problems } = await probeUnusableBodies(app, { prefix: 'BROKER' })
  t.ok(sent >= 2 * 13, `${sent} requests sent`)
  t.same(problems, [])
})

t.test('404, 405, 414 and 431 are in the kit shape, with the security headers', async (t) => {
  const app = await build(t)
  const { checked, problems } = await probeProtocolErrors(app, { prefix: 'BROKER' })
  t.ok(checked.length >= 4, `checked ${checked.join(', ')}`)
  t.same(problems, [])
})

t.test('the progress page runs its script and event stream under the CSP, and may be framed by an LMS', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest())
  const page = await app.inject({ url: `/launches/${res.json().id}`, headers: { accept: 'text/html' } })
  const csp = String(page.headers['content-security-policy'])
  const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? ''
  t.ok(script.includes('EventSource'))
  t.match(csp, `'sha256-${createHash('sha256').update(script).digest('base64')}'`, 'its inline script is allowed by hash')
  t.match(csp, "connect-src 'self'", 'its event stream may connect')
  t.notMatch(csp, 'frame-ancestors')
  t.notOk(page.headers['x-frame-options'])
})

t.test('the event stream, which the route writes itself, carries the security headers too', async (t) => {
  const app = await build(t)
  const accepted = await postLaunch(app, launchRequest())
  const id = accepted.json().id as string
  await waitForLaunch(app, id)
  const events = await app.inject({ url: `/launches/${id}/events` })
  t.match(events.headers['content-type'], 'text/event-stream')
  t.equal(events.headers['x-content-type-options'], 'nosniff')
  t.equal(events.headers['referrer-policy'], 'same-origin')
})
