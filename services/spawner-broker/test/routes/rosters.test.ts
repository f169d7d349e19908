import t from 'tap'
import type { RosterRequest } from '@ltilaunch/claims'
import { fakeHubForTest } from '../fake-hub.js'
import { build, deadPort, SERVICE_TOKEN, type App } from '../helper.js'

async function postRoster (app: App, body: unknown, token: string | null = SERVICE_TOKEN) {
  return await app.inject({
    method: 'POST',
    url: '/v1/rosters',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    payload: body as Record<string, unknown>
  })
}

const hubEnv = (url: string, token: string) => ({ HUB_URL: url, HUB_API_TOKEN: token })

const roster = (members: RosterRequest['members'], extra: Partial<RosterRequest> = {}): RosterRequest =>
  ({ course: { id: 'math-101' }, members, ...extra })

t.test('a roster makes the missing hub users and puts them in the course and role groups', async (t) => {
  const hub = await fakeHubForTest(t)
  hub.addUser('ada')
  const app = await build(t, { env: hubEnv(hub.url, hub.options.token) })
  const res = await postRoster(app, roster([
    { username: 'ada', role: 'learner', active: true },
    { username: 'bob', role: 'learner', active: true },
    { username: 'prof', role: 'staff', active: true }
  ]))
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { group: 'course:math-101', created: 2, grouped: 3, unchanged: 0, removed: 0, inactive: 0 })
  t.ok(hub.users.has('bob') && hub.users.has('prof'), 'the hub has the new users')
  t.same([...hub.groups.get('course:math-101') ?? []].sort(), ['ada', 'bob', 'prof'])
  t.same([...hub.groups.get('learner') ?? []].sort(), ['ada', 'bob'])
  t.same([...hub.groups.get('staff') ?? []], ['prof'])

  t.test('the same roster again changes nothing (idempotent)', async (t) => {
    const calls = hub.calls.length
    const again = await postRoster(app, roster([
      { username: 'ada', role: 'learner', active: true },
      { username: 'bob', role: 'learner', active: true },
      { username: 'prof', role: 'staff', active: true }
    ]))
    t.equal(again.statusCode, 200)
    t.same(again.json(), { group: 'course:math-101', created: 0, grouped: 0, unchanged: 3, removed: 0, inactive: 0 })
    const writes = hub.calls.slice(calls).filter((call) => call.method !== 'GET' && call.status !== 409)
    t.same(writes, [], 'no write reached the hub')
  })
})

t.test('inactive members leave the course group but stay hub users; a role change moves the role group', async (t) => {
  const hub = await fakeHubForTest(t)
  hub.addUser('ada', { groups: ['course:canvas-math-101', 'learner'] })
  hub.addUser('bob', { groups: ['course:canvas-math-101', 'learner'] })
  hub.addUser('other', { groups: ['course:canvas-math-101'] })
  const app = await build(t, { env: hubEnv(hub.url, hub.options.token) })
  const res = await postRoster(app, roster([
    { username: 'ada', role: 'learner', active: false },
    { username: 'bob', role: 'staff', active: true },
    { username: 'gone', role: 'learner', active: false }
  ], { namespace: { prefix: 'canvas-', suffix: '' } }))
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { group: 'course:canvas-math-101', created: 0, grouped: 0, unchanged: 1, removed: 1, inactive: 1 })
  t.ok(hub.users.has('ada'), 'an inactive member is not deleted from the hub')
  t.notOk(hub.users.has('gone'), 'an inactive member the hub never knew is not created')
  t.same([...hub.groups.get('course:canvas-math-101') ?? []].sort(), ['bob', 'other'], 'a member the roster does not name is left alone')
  t.same([...hub.groups.get('staff') ?? []], ['bob'])
  t.same([...hub.groups.get('learner') ?? []], ['ada'], 'bob, staff now, left the learner group')
})

t.test('refusals', async (t) => {
  const hub = await fakeHubForTest(t)
  const app = await build(t, { env: hubEnv(hub.url, hub.options.token) })

  const unauthorized = await postRoster(app, roster([]), 'wrong-token-0123456789abcdef')
  t.equal(unauthorized.statusCode, 401)
  t.equal(unauthorized.json().code, 'BROKER_UNAUTHORIZED')
  t.equal((await postRoster(app, roster([]), null)).json().code, 'BROKER_UNAUTHORIZED')

  const slash = await postRoster(app, roster([{ username: 'a/b', role: 'learner', active: true }]))
  t.equal(slash.statusCode, 400)
  t.equal(slash.json().code, 'BROKER_ROSTER_USERNAME_REFUSED')

  const shape = await postRoster(app, { course: { id: 'x' }, members: [{ username: 'a', role: 'teacher', active: true }] })
  t.equal(shape.statusCode, 400)
  t.equal(shape.json().code, 'BROKER_INVALID_REQUEST')
  t.same(hub.calls, [], 'nothing refused reached the hub')
})

t.test('a hub that refuses the broker\'s token is a 502 naming the cause; a hub that is down, a 503 with Retry-After', async (t) => {
  const hub = await fakeHubForTest(t)
  const app = await build(t, { env: { ...hubEnv(hub.url, 'not-the-hub-token'), HUB_RETRIES: '0' } })
  const refused = await postRoster(app, roster([{ username: 'ada', role: 'learner', active: true }]))
  t.equal(refused.statusCode, 502)
  t.equal(refused.json().code, 'BROKER_ROSTER_HUB_REFUSED')

  const down = await build(t, { env: { ...hubEnv(`http://127.0.0.1:${await deadPort()}`, hub.options.token), HUB_RETRIES: '1' } })
  const unavailable = await postRoster(down, roster([{ username: 'ada', role: 'learner', active: true }]))
  t.equal(unavailable.statusCode, 503)
  t.equal(unavailable.json().code, 'BROKER_ROSTER_HUB_UNAVAILABLE')
  t.ok(unavailable.headers['retry-after'])
})

t.test('a dry-run broker says rosters need a hub', async (t) => {
  const app = await build(t)
  const res = await postRoster(app, roster([{ username: 'ada', role: 'learner', active: true }]))
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'BROKER_ROSTER_NEEDS_HUB')
})
