import t from 'tap'
import { fakeHubForTest } from '../fake-hub.js'
import { formatElapsed, progressPage } from '../../src/views/progress-page.js'
import { build, launchRequest, postLaunch, SCIPY, waitForLaunch } from '../helper.js'

const HTML = { accept: 'text/html' }

t.test('while a launch waits, its page shows the course and image, refreshes without scripts, and follows events', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest({ image: 'scipy', course: { id: 'c1', label: 'MATH101', title: 'Calculus <I>' } }))
  const id = res.json().id
  const page = await app.inject({ url: `/launches/${id}`, headers: HTML })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], 'text/html')
  t.equal(page.headers['cache-control'], 'no-store')
  t.match(page.body, 'Calculus &lt;I&gt;', 'the course title, escaped')
  t.notMatch(page.body, 'Calculus <I>')
  t.match(page.body, `scipy (${SCIPY})`)
  t.match(page.body, /<noscript><meta http-equiv="refresh" content="2"><\/noscript>/)
  t.match(page.body, `data-events="/launches/${id}/events"`)
  t.match(page.body, 'Waiting for a broker')
})

t.test('a waiting launch shows an empty progress bar, the elapsed time and its first step with its time', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest())
  const id = res.json().id
  const page = await app.inject({ url: `/launches/${id}`, headers: HTML })
  t.match(page.body, '<progress id="bar" max="100" value="0">0%</progress>')
  t.match(page.body, /<p>Elapsed: <span id="elapsed">\d+ s<\/span><\/p>/)
  t.match(page.body, /<li><time datetime="[^"]+">\+\d+\.\d s<\/time> Waiting for a broker/)
  t.notMatch(page.body, /style="/, 'no style attribute: the CSP would block it')
  t.notMatch(page.body, / on[a-z]+="/, 'no inline event handler: the CSP would block it')
})

t.test('the elapsed time and each step\'s time count from the launch\'s start', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest())
  const launch = await app.launches.get(res.json().id)
  if (!launch) throw new Error('no launch')
  launch.progress = [
    { at: new Date(launch.createdMs + 1500).toISOString(), message: 'Asking the hub', percent: 5 },
    { at: new Date(launch.createdMs + 4200).toISOString(), message: 'Pulling image', percent: 40 },
    { at: new Date(launch.createdMs + 4600).toISOString(), message: 'Server requested', percent: 0 },
    { at: new Date(launch.createdMs + 5000).toISOString(), message: 'Waiting for the server' }
  ]
  launch.status = 'spawning'
  const body = progressPage({ launch, base: '/b', retryToken: 'x', refreshSeconds: 2, nowMs: launch.createdMs + 65_000 })
  t.match(body, '<span id="elapsed">1 min 5 s</span>')
  t.match(body, '+1.5 s</time> Asking the hub (5%)')
  t.match(body, '+4.2 s</time> Pulling image (40%)')
  t.match(body, '<progress id="bar" max="100" value="40">40%</progress>', 'the highest percent of the steps: the hub\'s 0% after them does not move it back')
  // After a retry the bar counts that attempt's steps only.
  launch.attemptStartedAt = new Date(launch.createdMs + 4500).toISOString()
  const retried = progressPage({ launch, base: '/b', retryToken: 'x', refreshSeconds: 2, nowMs: launch.createdMs + 65_000 })
  t.match(retried, '<progress id="bar" max="100" value="0">0%</progress>')
  t.match(retried, `data-attempt-started="${launch.attemptStartedAt}"`)
  t.match(body, `data-started="${new Date(launch.createdMs).toISOString()}"`)
  t.equal(formatElapsed(59_999), '59 s')
  t.equal(formatElapsed(120_000), '2 min 0 s')
})

t.test('while the hub spawns, its own progress events fill the bar and the steps', async (t) => {
  const hub = await fakeHubForTest(t, { spawnMs: 3000 })
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token } })
  const res = await postLaunch(app, launchRequest({ username: 'watcher' }))
  const id = res.json().id
  await waitForLaunch(app, id, (r) => r.progress.some((p) => p.message === 'Pulling image, step 2'))
  const page = await app.inject({ url: `/launches/${id}`, headers: HTML })
  t.match(page.body, 'Starting your notebook server')
  t.match(page.body, /<time datetime="[^"]+">\+\d+\.\d s<\/time> Pulling image, step 2 \(20%\)/)
  const percents = [...page.body.matchAll(/ \((\d+)%\)<\/li>/g)].map((m) => Number(m[1]))
  const value = Number(/<progress id="bar" max="100" value="(\d+)">/.exec(page.body)?.[1])
  t.ok(value >= 20, `the bar follows the hub (${value}%)`)
  t.equal(value, Math.max(...percents), 'the bar shows the highest percent in the steps')
  await waitForLaunch(app, id)
})

t.test('dry run: the finished launch shows what would have started', async (t) => {
  const app = await build(t, { env: { HUB_NAMED_SERVERS: 'true', HUB_SYNC_ADMIN: 'true', HUB_SYNC_GROUPS: 'true' } })
  const res = await postLaunch(app, launchRequest({ username: 'dora', role: 'staff', isAdmin: true, image: 'scipy' }))
  const record = await waitForLaunch(app, res.json().id)
  t.equal(record.status, 'ready')
  t.equal(record.serverUrl, undefined, 'nothing runs anywhere')
  const page = await app.inject({ url: `/launches/${record.id}`, headers: HTML })
  t.equal(page.statusCode, 200)
  t.match(page.body, 'Dry run')
  t.match(page.body, '<td>dora</td>')
  t.match(page.body, 'staff (hub admin)')
  t.match(page.body, '<tr><th>Hub groups</th><td>staff</td></tr>')
  t.match(page.body, 'Calculus')
  t.match(page.body, SCIPY)
  t.match(page.body, `<td>${record.serverName}</td>`)
  t.match(page.body, '{&quot;image&quot;:&quot;quay.io/jupyter/scipy-notebook:latest&quot;}')
})

t.test('dry run without syncing: the page says groups and admin flag are left alone', async (t) => {
  const app = await build(t)
  const res = await postLaunch(app, launchRequest({ role: 'staff', isAdmin: true }))
  const record = await waitForLaunch(app, res.json().id)
  const page = await app.inject({ url: `/launches/${record.id}`, headers: HTML })
  t.notMatch(page.body, 'hub admin')
  t.match(page.body, 'HUB_SYNC_GROUPS is off')
})

t.test('the page\'s script is valid JavaScript', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest())
  const page = await app.inject({ url: `/launches/${res.json().id}`, headers: HTML })
  const script = /<script>([\s\S]*)<\/script>/.exec(page.body)?.[1] ?? ''
  t.ok(script.includes('EventSource'))
  t.doesNotThrow(() => new Function(script)) // eslint-disable-line no-new-func
})

t.test('an unknown launch is a 404 page for a browser', async (t) => {
  const app = await build(t, { store: 'memory' })
  const page = await app.inject({ url: '/launches/AAAAAAAAAAAAAAAAAAAAAAAA', headers: HTML })
  t.equal(page.statusCode, 404)
  t.match(page.headers['content-type'], 'text/html')
  t.match(page.body, 'BROKER_LAUNCH_NOT_FOUND')
})

interface SseEvent { event: string, data: Record<string, unknown> }

/** Starts the app on a free port (an event stream needs a real socket) and gives its base URL. */
async function listening (app: Awaited<ReturnType<typeof build>>): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
}

async function readEvents (url: string): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.timeout(10_000) })
  if (res.headers.get('content-type')?.startsWith('text/event-stream') !== true) throw new Error(`not a stream: ${res.status}`)
  const text = await res.text()
  return text.split('\n\n').filter((block) => block.startsWith('event:')).map((block) => {
    const lines = block.split('\n')
    return {
      event: (lines.find((l) => l.startsWith('event:')) ?? '').slice(6).trim(),
      data: JSON.parse((lines.find((l) => l.startsWith('data:')) ?? 'data: {}').slice(5)) as Record<string, unknown>
    }
  })
}

t.test('the event stream sends each change of the launch and ends when it is done', async (t) => {
  const app = await build(t, { env: { DRY_RUN_STEP_MS: '150' } })
  const base = await listening(app)
  const res = await postLaunch(app, launchRequest())
  const events = await readEvents(`${base}/launches/${res.json().id}/events`)
  t.ok(events.length >= 3, `several updates (${events.length})`)
  t.ok(events.every((e) => e.event === 'update'))
  const last = events.at(-1)?.data
  t.equal(last?.status, 'ready')
  t.equal(last?.redirectUrl, undefined, 'dry run: nowhere to go')
  const counts = events.map((e) => (e.data.progress as unknown[]).length)
  t.same(counts, [...counts].sort((a, b) => a - b), 'progress only grows')
})

t.test('the last change reaches the stream even when it shares a millisecond with the one before', async (t) => {
  const app = await build(t, { env: { DRY_RUN_STEP_MS: '60000' } })
  const base = await listening(app)
  const id = (await postLaunch(app, launchRequest())).json().id as string
  const reading = readEvents(`${base}/launches/${id}/events`)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const current = await app.launches.get(id)
  if (current === undefined) throw new Error('the launch is gone')
  // Ready, written with the very same updatedAt as the update before it (the
  // repository would stamp a new time, so write the record as it is).
  await app.store.set(`launch:${id}`, { ...current, status: 'ready', progress: [...current.progress, { at: current.updatedAt, message: 'ready' }] }, 600)
  const events = await reading
  t.equal(events.at(-1)?.data.status, 'ready', 'the stream says ready before it ends')
})

t.test('a change of a full progress list in the same millisecond still reaches the stream', async (t) => {
  const app = await build(t, { env: { DRY_RUN_STEP_MS: '60000' } })
  const base = await listening(app)
  const id = (await postLaunch(app, launchRequest())).json().id as string
  await new Promise((resolve) => setTimeout(resolve, 200))
  const current = await app.launches.get(id)
  if (current === undefined) throw new Error('the launch is gone')
  // Forty messages: the list is full, so its length stays the same from now on.
  const full = Array.from({ length: 40 }, (_, i) => ({ at: current.updatedAt, message: `step ${i}` }))
  await app.store.set(`launch:${id}`, { ...current, status: 'spawning', progress: full, revision: 10 }, 600)
  const reading = readEvents(`${base}/launches/${id}/events`)
  await new Promise((resolve) => setTimeout(resolve, 300))
  // Same time, same status, same length; only the newest message (and the revision) differ.
  await app.store.set(`launch:${id}`, { ...current, status: 'spawning', progress: [...full.slice(1), { at: current.updatedAt, message: 'pulling the image' }], revision: 11 }, 600)
  await new Promise((resolve) => setTimeout(resolve, 300))
  await app.store.set(`launch:${id}`, { ...current, status: 'ready', progress: full, revision: 12 }, 600)
  const events = await reading
  const messages = events.map((e) => (e.data.progress as Array<{ message: string }>).at(-1)?.message)
  t.ok(messages.includes('pulling the image'), `the stream sent the changed message (${messages.join(', ')})`)
  t.equal(events.at(-1)?.data.status, 'ready')
})

t.test('with a hub, the last event carries the hub login URL', async (t) => {
  const hub = await fakeHubForTest(t, { spawnMs: 200 })
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token } })
  const base = await listening(app)
  const res = await postLaunch(app, launchRequest({ username: 'streamer' }))
  const events = await readEvents(`${base}/launches/${res.json().id}/events`)
  const last = events.at(-1)?.data
  t.equal(last?.status, 'ready')
  t.equal(last?.redirectUrl, `${hub.url}/hub/login?next=%2Fhub%2Fuser%2Fstreamer%2F`)
})

t.test('try again: only from the page (token, same origin), only for a failed launch, once per failure', async (t) => {
  const hub = await fakeHubForTest(t, { failSpawn: 'no space left on device', spawnMs: 20 })
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token } })
  const res = await postLaunch(app, launchRequest({ username: 'retrier' }))
  const id = res.json().id
  const failed = await waitForLaunch(app, id)
  t.equal(failed.status, 'failed')
  const page = await app.inject({ url: `/launches/${id}`, headers: HTML })
  t.match(page.body, 'no space left on device')
  t.match(page.body, `action="/launches/${id}/retry"`)
  const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1] as string
  const retry = async (headers: Record<string, string>, form: string) => await app.inject({
    method: 'POST',
    url: `/launches/${id}/retry`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: form
  })

  const forged = await retry({}, 'token=forged')
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'BROKER_CROSS_SITE_REQUEST')
  const crossOrigin = await retry({ origin: 'https://evil.example' }, `token=${token}`)
  t.equal(crossOrigin.statusCode, 403)
  const crossSite = await retry({ 'sec-fetch-site': 'cross-site' }, `token=${token}`)
  t.equal(crossSite.statusCode, 403)
  const noToken = await retry({}, '')
  t.equal(noToken.statusCode, 400)
  t.equal(hub.starts.length, 1, 'none of those queued it again')

  const ok = await retry({ origin: 'http://broker.test', 'sec-fetch-site': 'same-origin' }, `token=${token}`)
  t.equal(ok.statusCode, 303)
  t.equal(ok.headers.location, `/launches/${id}`)
  const again = await waitForLaunch(app, id, (r) => r.status === 'failed' && r.progress.some((p) => p.message === 'Trying again'))
  t.equal(again.status, 'failed')
  t.equal(hub.starts.length, 2, 'the retry started the server again')
  const stored = await app.launches.get(id)
  t.equal(stored?.attemptStartedAt, again.progress.find((p) => p.message === 'Trying again')?.at, 'the progress bar counts from the retry')

  // The form of the first failure does not work twice.
  const replay = await retry({}, `token=${token}`)
  t.equal(replay.statusCode, 403)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(hub.starts.length, 2)
})

t.test('a launch that did not fail cannot be tried again', async (t) => {
  const app = await build(t)
  const res = await postLaunch(app, launchRequest())
  const record = await waitForLaunch(app, res.json().id)
  t.equal(record.status, 'ready')
  const { retryToken } = await import('../../src/launches/retry.js')
  const token = retryToken(app.config.BROKER_SERVICE_TOKEN, { id: record.id, attempt: 1 })
  const retry = await app.inject({ method: 'POST', url: `/launches/${record.id}/retry`, payload: { token } })
  t.equal(retry.statusCode, 409)
  t.equal(retry.json().code, 'BROKER_RETRY_NOT_ALLOWED')
})

t.test('closing the server ends open event streams instead of waiting for them', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const base = await listening(app)
  const res = await postLaunch(app, launchRequest())
  const stream = await fetch(`${base}/launches/${res.json().id}/events`)
  const body = stream.text()
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`)
  t.match(await body, 'event: update')
})
