import { LTI_CLAIM } from '@ltilaunch/claims'
import t from 'tap'
import { build, TEST_ENV, type App } from '../helper.js'
import { startBroker, type FakeBroker } from '../support/broker.js'
import { launch } from '../support/launch.js'
import { INSTRUCTOR, member, NRPS_ACCEPT, NRPS_TOKEN, startNrps, type FakeNrps } from '../support/nrps.js'
import { startPlatform, type TestPlatform } from '../support/platform.js'
import { toolFor } from '../support/flow.js'
import { nextLink } from '../../src/lib/rosters/nrps.js'
import type { RosterOutcome } from '../../src/lib/rosters/sync.js'

const COURSE = 'course-42'

interface Setup { app: App, platform: TestPlatform, nrps: FakeNrps, broker: FakeBroker }

async function setup (t: Parameters<typeof build>[0], env: Record<string, string | undefined> = {}): Promise<Setup> {
  const platform = await startPlatform(t)
  const nrps = await startNrps(t)
  const broker = await startBroker(t)
  const app = await build(t, {
    env: { ...platform.env, token_url: nrps.tokenUrl, BROKER_URL: broker.url, BROKER_SERVICE_TOKEN: 'test-broker-token-0123456789', ROSTER_SYNC: 'true', ...env }
  })
  nrps.toolJwks = app.toolKeys.jwks
  return { app, platform, nrps, broker }
}

const nrpsClaim = (nrps: FakeNrps) => ({ [LTI_CLAIM.nrps]: { context_memberships_url: nrps.url, service_versions: ['2.0'] } })

async function staffLaunch (s: Setup) {
  return await launch(s.app, s.platform, { overrides: nrpsClaim(s.nrps), lti: { roles: [INSTRUCTOR] } })
}

/** Waits for the course's sync outcome (the sync runs in the background). */
async function outcomeOf (app: App, issuer: string, since = ''): Promise<RosterOutcome> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const outcome = await app.rosters.outcome(issuer, COURSE)
    if (outcome !== undefined && outcome.startedAt > since) return outcome
    if (Date.now() > deadline) throw new Error('no roster outcome')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const COURSE_MEMBERS = () => [
  member('user-sub-1', { email: 'Ada@Example.org', roles: [INSTRUCTOR] }),
  member('s2', { email: 'bob@example.org' }),
  member('s3'), // the platform withholds the email: privacy
  member('s4', { email: 'cy@example.org', status: 'Inactive' }),
  member('s5', { email: 'dee@example.org', roles: ['Learner'] })
]

t.test('a staff launch syncs the course roster in the background, page by page, as launches would name each member', async (t) => {
  const s = await setup(t)
  s.nrps.members = COURSE_MEMBERS()
  let release = () => {}
  s.nrps.gate = new Promise((resolve) => { release = resolve })
  const { res } = await staffLaunch(s)
  t.equal(res.statusCode, 303, 'the launch is answered while the platform still holds the roster')
  t.same(s.broker.rosters, [])
  release()
  const outcome = await outcomeOf(s.app, s.platform.issuer)
  t.equal(outcome.ok, true, JSON.stringify(outcome.error))
  t.match(outcome, { trigger: 'launch', pages: 3, members: 5, created: 3, inactive: 1, skipped: { privacy: 1, taken: 0, refused: 0, no_user_id: 0 } })
  t.equal(s.nrps.requests.length, 3, 'every page was read, by its next link')
  t.ok(s.nrps.requests.every((r) => r.accept === NRPS_ACCEPT && r.authorization === `Bearer ${NRPS_TOKEN}`))
  t.same(s.broker.rosters.flatMap((r) => r.members), [
    { username: 'ada@example.org', role: 'staff', active: true },
    { username: 'bob@example.org', role: 'learner', active: true },
    { username: 'cy@example.org', role: 'learner', active: false },
    { username: 'dee@example.org', role: 'learner', active: true }
  ])
  t.ok(s.broker.rosters.every((r) => r.course.id === COURSE && r.namespace === undefined))
  t.equal(await s.app.store.get('username:bob@example.org'), JSON.stringify([s.platform.issuer, 's2']), 'the name is bound to its (issuer, sub) as a launch binds it')

  t.test('another staff launch within ROSTER_SYNC_INTERVAL reads nothing again; the operator is told to wait, or forces it', async (t) => {
    await staffLaunch(s)
    await s.app.rosters.settled()
    await t.rejects(s.app.rosters.sync(s.platform.issuer, COURSE, 'operator'), { code: 'TOOL_AUTH_ROSTER_SYNC_BUSY', statusCode: 429 })
    t.equal(s.nrps.requests.length, 3, 'no page read again')
    const forced = await s.app.rosters.sync(s.platform.issuer, COURSE, 'operator', { force: true })
    t.equal(forced.ok, true)
    t.equal(forced.trigger, 'operator')
    t.equal(s.nrps.requests.length, 6)
  })
})

t.test('a name bound to another person is skipped and reported, never handed over', async (t) => {
  const s = await setup(t)
  s.nrps.members = COURSE_MEMBERS()
  const other = JSON.stringify(['https://other-lms.example', 'someone-else'])
  await s.app.store.bind('username:bob@example.org', other)
  await staffLaunch(s)
  await s.app.rosters.settled()
  const outcome = await outcomeOf(s.app, s.platform.issuer)
  t.equal(outcome.ok, true)
  t.equal(outcome.skipped.taken, 1)
  t.same(outcome.taken, ['bob@example.org'])
  t.notOk(s.broker.rosters.flatMap((r) => r.members).some((m) => m.username === 'bob@example.org'), 'the broker never hears of bob')
  t.equal(await s.app.store.get('username:bob@example.org'), other, 'the binding is unchanged')
})

t.test('a learner launch does not sync, but tells the tool where the roster is, so the operator can sync it', async (t) => {
  const s = await setup(t)
  s.nrps.members = [member('user-sub-1', { email: 'Ada@Example.org' })]
  await launch(s.app, s.platform, { overrides: nrpsClaim(s.nrps) })
  const deadline = Date.now() + 5000
  while (await s.app.rosters.course(s.platform.issuer, COURSE) === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.match(await s.app.rosters.course(s.platform.issuer, COURSE), { membershipsUrl: s.nrps.url, clientId: s.platform.clientId })
  t.equal(s.nrps.requests.length, 0)
  const outcome = await s.app.rosters.sync(s.platform.issuer, COURSE, 'operator')
  t.match(outcome, { ok: true, trigger: 'operator', members: 1, created: 1 })
  await t.rejects(s.app.rosters.sync(s.platform.issuer, 'never-launched', 'operator'), { code: 'TOOL_AUTH_ROSTER_COURSE_UNKNOWN' })
})

t.test('the platform refusing the token (401, 403) is the outcome, with its status; nothing reaches the broker', async (t) => {
  for (const status of [401, 403]) {
    const s = await setup(t)
    s.nrps.members = COURSE_MEMBERS()
    s.nrps.fail = status
    await staffLaunch(s)
    const outcome = await outcomeOf(s.app, s.platform.issuer)
    t.equal(outcome.ok, false)
    t.equal(outcome.error?.code, 'TOOL_AUTH_ROSTER_PLATFORM_REFUSED')
    t.match(outcome.error?.message, new RegExp(`\\(${status}: `))
    t.same(s.broker.rosters, [])
    const lockFree = await s.app.store.get(`roster:running:${(await import('../../src/lib/rosters/sync.js')).courseKey(s.platform.issuer, COURSE)}`)
    t.equal(lockFree, undefined, 'the course lock is released after a failure')
  }

  t.test('a cached token the platform no longer takes is replaced once; a token endpoint that refuses is the outcome, with its error', async (t) => {
    const s = await setup(t)
    s.nrps.members = COURSE_MEMBERS()
    s.nrps.tokens = ['revoked-token-0123456789', NRPS_TOKEN]
    await staffLaunch(s)
    await s.app.rosters.settled()
    const outcome = await outcomeOf(s.app, s.platform.issuer)
    t.equal(outcome.ok, true, JSON.stringify(outcome.error))
    t.equal(s.nrps.tokenRequests.length, 2, 'one fresh token after the 401')
    t.match(s.nrps.tokenRequests[0], { scope: 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly', claims: { iss: s.platform.clientId, sub: s.platform.clientId } })

    const refused = await setup(t)
    refused.nrps.members = COURSE_MEMBERS()
    refused.nrps.refuseToken = 'invalid_scope'
    await staffLaunch(refused)
    await refused.app.rosters.settled()
    const failed = await outcomeOf(refused.app, refused.platform.issuer)
    t.equal(failed.error?.code, 'TOOL_AUTH_PLATFORM_TOKEN_REFUSED')
    t.match(failed.error?.message, /invalid_scope/)
    t.equal(refused.nrps.requests.length, 0, 'no memberships request without a token')
    t.same(refused.broker.rosters, [])
  })
})

t.test('the access token never leaves the platform\'s origin: a next link elsewhere stops the read', async (t) => {
  const s = await setup(t)
  const elsewhere = await startNrps(t)
  s.nrps.members = COURSE_MEMBERS()
  s.nrps.nextOverride = elsewhere.url
  await staffLaunch(s)
  const outcome = await outcomeOf(s.app, s.platform.issuer)
  t.equal(outcome.error?.code, 'TOOL_AUTH_ROSTER_PLATFORM_INVALID')
  t.equal(elsewhere.requests.length, 0, 'the other origin got no request (and no token)')
  t.equal(outcome.pages, 1, 'the first page was applied before the read stopped')
})

t.test('a broker (or hub) that cannot apply the roster is the outcome; the launch itself is unaffected', async (t) => {
  const s = await setup(t)
  s.nrps.members = COURSE_MEMBERS()
  s.broker.mode = 'roster-error'
  const { res } = await staffLaunch(s)
  t.equal(res.statusCode, 303)
  await s.app.rosters.settled()
  const outcome = await outcomeOf(s.app, s.platform.issuer)
  t.equal(outcome.error?.code, 'TOOL_AUTH_ROSTER_BROKER_UNAVAILABLE')
  t.match(outcome.error?.message, /BROKER_ROSTER_HUB_UNAVAILABLE/)
})

t.test('rosters are off by default, and on for one platform with roster_sync in PLATFORMS_FILE', async (t) => {
  const off = await setup(t, { ROSTER_SYNC: undefined })
  off.nrps.members = COURSE_MEMBERS()
  await staffLaunch(off)
  await t.rejects(off.app.rosters.sync(off.platform.issuer, COURSE, 'operator'), { code: 'TOOL_AUTH_ROSTER_SYNC_OFF' })
  t.equal(off.nrps.requests.length, 0)
  await off.app.rosters.settled()
  t.equal(await off.app.rosters.outcome(off.platform.issuer, COURSE), undefined, 'no sync ran')

  const platform = await startPlatform(t)
  const nrps = await startNrps(t)
  const broker = await startBroker(t)
  nrps.members = COURSE_MEMBERS()
  const app = await toolFor(t, [platform], { BROKER_URL: broker.url, PUBLIC_URL: 'https://tool.test' }, [{ roster_sync: true, username_prefix: 'lms-', token_url: nrps.tokenUrl }])
  nrps.toolJwks = app.toolKeys.jwks
  await launch(app, platform, { overrides: nrpsClaim(nrps), lti: { roles: [INSTRUCTOR] } })
  const outcome = await outcomeOf(app, platform.issuer)
  t.equal(outcome.ok, true, JSON.stringify(outcome.error))
  t.same(broker.rosters[0]?.namespace, { prefix: 'lms-', suffix: '' })
  t.equal(broker.rosters[0]?.members[0]?.username, 'lms-ada@example.org', 'the platform\'s namespace, as its launches get it')
})

t.test('a platforms file with a roster_sync that is not yes or no stops the start', async (t) => {
  const { readConfig } = await import('../../src/config.js')
  const { writeFileSync } = await import('node:fs')
  const file = `${t.testdir()}/platforms.json`
  writeFileSync(file, JSON.stringify([{ issuer: 'https://lms.example', client_ids: ['c'], authorize_url: 'https://lms.example/a', jwks_endpoint: 'https://lms.example/j', roster_sync: 'sometimes' }]))
  t.throws(() => readConfig({ ...TEST_ENV, issuer: undefined, client_id: undefined, authorize_url: undefined, jwks_endpoint: undefined, PLATFORMS_FILE: file } as unknown as NodeJS.ProcessEnv), /roster_sync must be true or false/)
})

t.test('Link headers: rel="next" among others, relative targets, none', async (t) => {
  const base = 'https://lms.example/api/roster?page=1'
  t.equal(nextLink('<https://lms.example/api/roster?page=2>; rel="next", <https://lms.example/d>; rel="differences"', base), 'https://lms.example/api/roster?page=2')
  t.equal(nextLink('<https://lms.example/d>; rel="differences", </api/roster?page=3>; rel=next', base), 'https://lms.example/api/roster?page=3')
  t.equal(nextLink('<https://lms.example/d>; rel="differences"', base), undefined)
  t.equal(nextLink(null, base), undefined)
})

t.test('the operator command syncs a course and prints its outcome', async (t) => {
  const s = await setup(t)
  s.nrps.members = [member('user-sub-1', { email: 'Ada@Example.org' }), member('s2', { email: 'bob@example.org', roles: [INSTRUCTOR] })]
  await launch(s.app, s.platform, { overrides: nrpsClaim(s.nrps) })
  await s.app.rosters.settled()
  const { main } = await import('../../src/cli/rosters.js')
  const env = { ...TEST_ENV, ...s.platform.env, token_url: s.nrps.tokenUrl, BROKER_URL: s.broker.url, BROKER_SERVICE_TOKEN: 'test-broker-token-0123456789', ROSTER_SYNC: 'true', LOG_LEVEL: 'silent' }
  const lines: string[] = []
  const code = await main(['sync', s.platform.issuer, COURSE], env, (line) => lines.push(line), { store: s.app.store })
  t.equal(code, 0, lines.join('\n'))
  t.match(JSON.parse(lines.join('\n')), { ok: true, trigger: 'operator', members: 2, created: 2 })
  t.same(s.broker.rosters[0]?.members.map((m) => m.role), ['learner', 'staff'])

  const again: string[] = []
  await t.rejects(main(['sync', s.platform.issuer, COURSE], env, (line) => again.push(line), { store: s.app.store }), { code: 'TOOL_AUTH_ROSTER_SYNC_BUSY' })
  const status: string[] = []
  t.equal(await main(['status', s.platform.issuer, COURSE], env, (line) => status.push(line), { store: s.app.store }), 0)
  t.match(JSON.parse(status.join('\n')), { ok: true, members: 2 })
  await t.rejects(main(['frobnicate'], env, () => {}), /usage: rosters/)
})
