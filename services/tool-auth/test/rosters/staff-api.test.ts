import { LTI_CLAIM, serverNameFor } from '@ltilaunch/claims'
import t from 'tap'
import { build } from '../helper.js'
import { startFakeHubApi } from '../support/advantage.js'
import { startBroker } from '../support/broker.js'
import { launch } from '../support/launch.js'
import { INSTRUCTOR, member, startNrps } from '../support/nrps.js'
import { startPlatform } from '../support/platform.js'

const COURSE = 'course-42'
const SERVER = serverNameFor({ id: COURSE, label: 'DS101' }, true)

async function setup (t: Parameters<typeof build>[0]) {
  const platform = await startPlatform(t)
  const nrps = await startNrps(t)
  const broker = await startBroker(t)
  const hub = await startFakeHubApi(t)
  const app = await build(t, {
    env: {
      ...platform.env,
      token_url: nrps.tokenUrl,
      BROKER_URL: broker.url,
      BROKER_SERVICE_TOKEN: 'test-broker-token-0123456789',
      HUB_API_URL: hub.apiUrl,
      ROSTER_SYNC: 'true'
    }
  })
  nrps.toolJwks = app.toolKeys.jwks
  nrps.members = [member('user-sub-1', { email: 'Ada@Example.org', roles: [INSTRUCTOR] }), member('s2', { email: 'bob@example.org' })]
  const nrpsClaim = { [LTI_CLAIM.nrps]: { context_memberships_url: nrps.url, service_versions: ['2.0'] } }
  return { app, platform, nrps, broker, hub, nrpsClaim }
}

const sync = async (app: Awaited<ReturnType<typeof build>>, token: string | undefined, body: Record<string, unknown> = {}) =>
  await app.inject({ method: 'POST', url: '/rosters/sync', payload: body, headers: token === undefined ? {} : { authorization: `token ${token}` } })

t.test('staff sync their course\'s roster with their server\'s hub token, and read the outcome', async (t) => {
  const s = await setup(t)
  // A learner launch first: it tells the tool where the roster is, and syncs nothing.
  await launch(s.app, s.platform, { overrides: { ...s.nrpsClaim, sub: 's2', email: 'bob@example.org' } })
  await s.app.rosters.settled()
  s.hub.serverToken('tok-bob', 'bob@example.org', SERVER)
  const learner = await sync(s.app, 'tok-bob')
  t.equal(learner.statusCode, 403)
  t.equal(learner.json().code, 'TOOL_AUTH_ROSTER_NOT_STAFF')
  t.equal(s.nrps.requests.length, 0)

  await launch(s.app, s.platform, { overrides: s.nrpsClaim, lti: { roles: [INSTRUCTOR] } })
  await s.app.rosters.settled()
  s.nrps.requests.length = 0
  s.hub.serverToken('tok-ada', 'ada@example.org', SERVER)
  // The staff launch synced already: within ROSTER_SYNC_INTERVAL another is refused with Retry-After-style advice.
  const busy = await sync(s.app, 'tok-ada')
  t.equal(busy.statusCode, 429)
  t.equal(busy.json().code, 'TOOL_AUTH_ROSTER_SYNC_BUSY')
  t.ok(Number(busy.headers['retry-after']) > 0 && Number(busy.headers['retry-after']) <= 900, 'Retry-After says when')

  const status = await s.app.inject({ method: 'GET', url: '/rosters/status', headers: { authorization: 'token tok-ada' } })
  t.equal(status.statusCode, 200)
  t.match(status.json(), { ok: true, trigger: 'launch', members: 2, contextId: COURSE })

  await s.app.store.delete(`roster:recent:${(await import('../../src/lib/rosters/sync.js')).courseKey(s.platform.issuer, COURSE)}`)
  const started = await sync(s.app, 'tok-ada')
  t.equal(started.statusCode, 202, started.body)
  t.match(started.json(), { state: 'started', course: COURSE })
  await s.app.rosters.settled()
  t.match((await s.app.rosters.outcome(s.platform.issuer, COURSE)), { ok: true, trigger: 'staff' })
  t.ok(s.nrps.requests.length > 0, 'the roster was read again')
})

t.test('refusals: no token, a token the hub does not know, a user without a launch in the course', async (t) => {
  const s = await setup(t)
  t.equal((await sync(s.app, undefined)).json().code, 'TOOL_AUTH_HUB_TOKEN_MISSING')
  const unknown = await sync(s.app, 'forged')
  t.equal(unknown.statusCode, 401)
  t.equal(unknown.json().code, 'TOOL_AUTH_HUB_TOKEN_INVALID')
  s.hub.userToken('tok-eve', 'eve@example.org')
  const stranger = await sync(s.app, 'tok-eve', { course: COURSE })
  t.equal(stranger.statusCode, 403)
  t.equal(stranger.json().code, 'TOOL_AUTH_ROSTER_NO_LAUNCH')
  const status = await s.app.inject({ method: 'GET', url: `/rosters/status?course=${COURSE}`, headers: { authorization: 'token tok-eve' } })
  t.equal(status.json().code, 'TOOL_AUTH_ROSTER_NO_LAUNCH')
  t.equal(s.nrps.requests.length, 0)
})
