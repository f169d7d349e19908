import t, { type Test } from 'tap'
import { courseGroupName } from '@ltilaunch/claims'
import { fakeHubForTest, type FakeHub } from '../fake-hub.js'
import { build, launchRequest, MINIMAL, postLaunch, PYTORCH, SCIPY, waitForLaunch, type App } from '../helper.js'

async function withHub (t: Test, env: Record<string, string> = {}, hubOptions: Parameters<typeof fakeHubForTest>[1] = {}): Promise<{ hub: FakeHub, app: App }> {
  const hub = await fakeHubForTest(t, hubOptions)
  const app = await build(t, {
    env: {
      HUB_URL: hub.url,
      HUB_PUBLIC_URL: 'https://hub.example.org',
      HUB_API_TOKEN: hub.options.token,
      ...env
    }
  })
  return { hub, app }
}

async function launch (app: App, overrides: Parameters<typeof launchRequest>[0] = {}) {
  const res = await postLaunch(app, launchRequest(overrides))
  if (res.statusCode !== 201) throw new Error(`launch refused: ${res.body}`)
  return { id: res.json().id as string, record: await waitForLaunch(app, res.json().id) }
}

t.test('a new user: the hub user is created and the server started with the image', async (t) => {
  const { hub, app } = await withHub(t)
  const { record } = await launch(app, { username: 'newbie', image: 'scipy' })
  t.equal(record.status, 'ready')
  t.equal(record.serverName, '')
  t.equal(record.serverUrl, 'https://hub.example.org/user/newbie/')
  t.equal(hub.callsTo('POST', /^\/hub\/api\/users\/newbie$/).length, 1)
  t.same(hub.starts, [{ user: 'newbie', server: '', options: { image: SCIPY } }])
  t.equal(hub.server('newbie', '')?.ready, true)
  const messages = record.progress.map((p: { message: string }) => p.message)
  t.ok(messages.some((m: string) => /Creating your hub account/.test(m)))
  t.ok(messages.some((m: string) => /Asking the hub to start your server with .*scipy-notebook/.test(m)))
})

t.test('the progress page sends the browser to the hub login with next= the server', async (t) => {
  const { app } = await withHub(t, { HUB_NAMED_SERVERS: 'true' })
  const { id, record } = await launch(app, { username: 'ada' })
  t.equal(record.serverName, 'math101-' + record.serverName.slice(8))
  const page = await app.inject({ url: `/launches/${id}`, headers: { accept: 'text/html' } })
  t.equal(page.statusCode, 303)
  const location = new URL(page.headers.location as string)
  t.equal(location.origin + location.pathname, 'https://hub.example.org/hub/login')
  t.equal(location.searchParams.get('next'), `/hub/user/ada/${record.serverName}/`)
  t.match(page.headers.location, '%2Fhub%2Fuser%2Fada%2F', 'next is url-encoded')
})

t.test('an email username reaches the server URL the hub serves (@ not escaped)', async (t) => {
  const { app } = await withHub(t, { HUB_NAMED_SERVERS: 'true' })
  const { id, record } = await launch(app, { username: 'ada@example.edu' })
  const page = await app.inject({ url: `/launches/${id}`, headers: { accept: 'text/html' } })
  const location = new URL(page.headers.location as string)
  t.equal(location.searchParams.get('next'), `/hub/user/ada@example.edu/${record.serverName}/`)
})

t.test('a hub under a path prefix: the login URL and next carry the prefix', async (t) => {
  const { app } = await withHub(t, { HUB_PUBLIC_URL: 'https://uni.example.org/jhub/' })
  const { id } = await launch(app, { username: 'prefixed' })
  const page = await app.inject({ url: `/launches/${id}`, headers: { accept: 'text/html' } })
  t.equal(page.headers.location, 'https://uni.example.org/jhub/hub/login?next=%2Fjhub%2Fhub%2Fuser%2Fprefixed%2F')
})

t.test('an existing user is not created again', async (t) => {
  const { hub, app } = await withHub(t)
  hub.addUser('known')
  const { record } = await launch(app, { username: 'known' })
  t.equal(record.status, 'ready')
  t.equal(hub.callsTo('POST', /^\/hub\/api\/users\/known$/).length, 0)
  t.equal(hub.starts.length, 1)
})

t.test('a server already running with the same image is used as it is', async (t) => {
  const { hub, app } = await withHub(t)
  hub.runServer('busy', '', { image: MINIMAL })
  const { record } = await launch(app, { username: 'busy', image: 'minimal' })
  t.equal(record.status, 'ready')
  t.equal(hub.starts.length, 0, 'nothing started')
  t.equal(hub.stops.length, 0, 'nothing stopped')
  t.match(record.progress.at(-2)?.message, /already running with .*minimal-notebook/)
})

t.test('a running server with another image is restarted (ON_IMAGE_CHANGE=restart)', async (t) => {
  const { hub, app } = await withHub(t, {}, { stopMs: 100 })
  hub.runServer('switcher', '', { image: MINIMAL })
  const { record } = await launch(app, { username: 'switcher', image: 'pytorch' })
  t.equal(record.status, 'ready')
  t.same(hub.stops, [{ user: 'switcher', server: '' }])
  t.same(hub.starts, [{ user: 'switcher', server: '', options: { image: PYTORCH } }])
  t.same(hub.server('switcher', '')?.userOptions, { image: PYTORCH })
})

t.test('a running server with another image gets a sibling (ON_IMAGE_CHANGE=new-server)', async (t) => {
  const { hub, app } = await withHub(t, { HUB_NAMED_SERVERS: 'true', ON_IMAGE_CHANGE: 'new-server' })
  hub.runServer('twin', 'math101', { image: MINIMAL })
  const course = { id: 'c1', label: 'math101' }
  const first = await launch(app, { username: 'twin', image: 'pytorch', course })
  t.equal(first.record.status, 'ready')
  t.not(first.record.serverName, 'math101')
  t.match(first.record.serverName, /^math101-[0-9a-f]{8}$/)
  t.equal(hub.stops.length, 0, 'the running server is left alone')
  t.same(hub.server('twin', 'math101')?.userOptions, { image: MINIMAL })
  t.same(hub.starts, [{ user: 'twin', server: first.record.serverName, options: { image: PYTORCH } }])
  // The same image again lands on the sibling, which already runs.
  const again = await launch(app, { username: 'twin', image: 'pytorch', course })
  t.equal(again.record.serverName, first.record.serverName)
  t.equal(hub.starts.length, 1)
})

t.test('a slow spawn reports the hub progress, then becomes ready', async (t) => {
  const { hub, app } = await withHub(t, {}, { spawnMs: 600 })
  const res = await postLaunch(app, launchRequest({ username: 'slowpoke' }))
  const spawning = await waitForLaunch(app, res.json().id, (r) => r.status === 'spawning')
  t.equal(spawning.status, 'spawning')
  const record = await waitForLaunch(app, res.json().id)
  t.equal(record.status, 'ready')
  const messages = record.progress.map((p: { message: string }) => p.message)
  t.ok(messages.some((m: string) => /Pulling image, step \d/.test(m)), 'hub progress messages are recorded')
  t.ok(record.progress.some((p: { percent?: number }) => typeof p.percent === 'number' && p.percent > 0 && p.percent < 100))
  t.equal(hub.starts.length, 1)
})

t.test('a failed spawn fails the launch with the hub\'s message; try again starts it', async (t) => {
  const { hub, app } = await withHub(t, {}, { spawnMs: 50, failSpawn: 'image pull back-off' })
  const { id, record } = await launch(app, { username: 'unlucky' })
  t.equal(record.status, 'failed')
  t.match(record.reason, 'Spawn failed: image pull back-off')

  const page = await app.inject({ url: `/launches/${id}`, headers: { accept: 'text/html' } })
  t.equal(page.statusCode, 200)
  t.match(page.body, 'image pull back-off')
  const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1]
  t.ok(token, 'the page has a try-again form')

  hub.options.failSpawn = undefined
  const retry = await app.inject({
    method: 'POST',
    url: `/launches/${id}/retry`,
    headers: { origin: 'http://broker.test', 'sec-fetch-site': 'same-origin' },
    payload: { token }
  })
  t.equal(retry.statusCode, 303)
  t.equal(retry.headers.location, `/launches/${id}`)
  const after = await waitForLaunch(app, id, (r) => r.status === 'ready' || (r.status === 'failed' && !/back-off/.test(JSON.stringify(r.progress.at(-1)))))
  t.equal(after.status, 'ready')
  t.equal(hub.starts.length, 2)
})

t.test('hub 5xx answers are retried; the launch succeeds when the hub recovers', async (t) => {
  const { hub, app } = await withHub(t, { HUB_RETRIES: '4' })
  hub.failNext(3, 503)
  const { record } = await launch(app, { username: 'patient' })
  t.equal(record.status, 'ready')
  t.equal(hub.calls.filter((c) => c.status === 503).length, 3)
})

t.test('after the last retry the launch fails with the hub\'s message', async (t) => {
  const { hub, app } = await withHub(t, { HUB_RETRIES: '2' })
  hub.failNext(100, 500)
  const { record } = await launch(app, { username: 'doomed' })
  t.equal(record.status, 'failed')
  t.match(record.reason, /after 3 tries: 500 fake hub: injected failure/)
  t.equal(hub.calls.filter((c) => c.status === 500).length, 3)
})

t.test('a hub that is down for a while: the launch waits and succeeds when it is back', async (t) => {
  const { hub, app } = await withHub(t, { HUB_RETRIES: '8', HUB_RETRY_BASE_MS: '50' })
  await hub.down()
  const res = await postLaunch(app, launchRequest({ username: 'comeback' }))
  await new Promise((resolve) => setTimeout(resolve, 400))
  const meanwhile = await waitForLaunch(app, res.json().id, () => true)
  t.equal(meanwhile.status, 'spawning', 'still trying while the hub is down')
  await hub.start()
  const record = await waitForLaunch(app, res.json().id)
  t.equal(record.status, 'ready')
  t.equal(hub.starts.length, 1)
})

t.test('a 4xx from the hub is final: no retries', async (t) => {
  const { hub, app } = await withHub(t, { HUB_NAMED_SERVERS: 'true', HUB_RETRIES: '5' }, { allowNamedServers: false })
  const { record } = await launch(app, { username: 'named' })
  t.equal(record.status, 'failed')
  t.match(record.reason, 'Named servers are not enabled')
  t.equal(hub.callsTo('POST', /\/servers\//).length, 1)
})

t.test('a wrong hub token fails the launch at once with the hub\'s words', async (t) => {
  const hub = await fakeHubForTest(t)
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: 'not-the-right-token' } })
  const { record } = await launch(app)
  t.equal(record.status, 'failed')
  t.match(record.reason, /403.*not authorized/)
  t.equal(hub.calls.length, 1)
})

t.test('a spawn slower than SPAWN_TIMEOUT fails the launch', async (t) => {
  const { app } = await withHub(t, { SPAWN_TIMEOUT: '1' }, { spawnMs: 5000 })
  const { record } = await launch(app, { username: 'glacial' })
  t.equal(record.status, 'failed')
  t.match(record.reason, 'did not become ready within 1 seconds')
})

t.test('a spawn already pending on the hub is followed, not started again', async (t) => {
  const { hub, app } = await withHub(t, {}, { spawnMs: 300 })
  hub.addUser('early')
  const started = await fetch(`${hub.url}/hub/api/users/early/server`, {
    method: 'POST',
    headers: { authorization: `token ${hub.options.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image: MINIMAL })
  })
  t.equal(started.status, 202)
  const { record } = await launch(app, { username: 'early', image: 'minimal' })
  t.equal(record.status, 'ready')
  t.equal(hub.starts.length, 1, 'only the first start')
  t.ok(record.progress.some((p: { message: string }) => /already starting/.test(p.message)))
})

t.test('admin flag and groups follow the role when HUB_SYNC_ADMIN and HUB_SYNC_GROUPS are on', async (t) => {
  const { hub, app } = await withHub(t, { HUB_SYNC_ADMIN: 'true', HUB_SYNC_GROUPS: 'true', HUB_COURSE_GROUPS: 'true' })
  hub.addUser('prof', { groups: ['learner'] })
  hub.groups.set('learner', new Set(['prof']))
  const staff = await launch(app, { username: 'prof', role: 'staff', isAdmin: true, course: { id: 'c9', label: 'PHYS 2' } })
  t.equal(staff.record.status, 'ready')
  const user = hub.users.get('prof')
  t.equal(user?.admin, true)
  const courseGroup = courseGroupName({ id: 'c9', label: 'PHYS 2' })
  t.match(courseGroup, /^course-phys2-[0-9a-f]{8}$/)
  t.same([...(user?.groups ?? [])].sort(), [courseGroup, 'staff'])
  t.notOk(hub.groups.get('learner')?.has('prof'), 'removed from the learner group')
  t.same(hub.callsTo('PATCH', /\/users\/prof$/).map((c) => c.body), [{ admin: true }])

  // A later launch as a learner (no admin) takes both back.
  const learner = await launch(app, { username: 'prof', role: 'learner', isAdmin: false, course: { id: 'c9', label: 'PHYS 2' } })
  t.equal(learner.record.status, 'ready')
  t.equal(user?.admin, false)
  t.ok(user?.groups.has('learner'))
  t.notOk(user?.groups.has('staff'))
})

t.test('a hub that refuses the admin flag or groups: noted, and the server starts anyway', async (t) => {
  const { hub, app } = await withHub(t, { HUB_SYNC_ADMIN: 'true', HUB_SYNC_GROUPS: 'true' }, { brokerIsAdmin: false })
  const { record } = await launch(app, { username: 'notadmin', role: 'staff', isAdmin: true })
  t.equal(record.status, 'ready')
  t.equal(hub.users.get('notadmin')?.admin, false)
  t.ok(record.progress.some((p) => /Could not update the hub admin flag .*Only admins can grant admin permissions/.test(p.message)))
  t.ok(hub.users.get('notadmin')?.groups.has('staff'), 'groups were still synced')
  t.equal(hub.starts.length, 1)
})

t.test('without HUB_SYNC_* the admin flag and groups are left alone', async (t) => {
  const { hub, app } = await withHub(t)
  await launch(app, { username: 'plain', role: 'staff', isAdmin: true })
  t.equal(hub.users.get('plain')?.admin, false)
  t.equal(hub.users.get('plain')?.groups.size, 0)
  t.equal(hub.callsTo('PATCH', /./).length, 0)
})

t.test('kubespawner: user_options name the profile and the image as an unlisted or listed choice', async (t) => {
  const { hub, app } = await withHub(t, {
    HUB_USER_OPTIONS_FORM: 'kubespawner',
    HUB_KUBESPAWNER_PROFILE: 'python',
    HUB_KUBESPAWNER_CHOICES: `${SCIPY}=scipy-choice`
  })
  await launch(app, { username: 'kube1', image: 'pytorch' })
  await launch(app, { username: 'kube2', image: 'scipy' })
  t.same(hub.starts.map((s) => s.options), [
    { profile: 'python', image: 'unlisted_choice', 'image--unlisted-choice': PYTORCH },
    { profile: 'python', image: 'scipy-choice' }
  ])
  // A running server started from the listed choice counts as the same image.
  const again = await launch(app, { username: 'kube2', image: 'scipy' })
  t.equal(again.record.status, 'ready')
  t.equal(hub.starts.length, 2)
})
