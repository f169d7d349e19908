import { LTI_CLAIM, serverNameFor } from '@ltilaunch/claims'
import { logCapture } from '@ltilaunch/service-kit/testing'
import t, { type Test } from 'tap'
import { build, type App } from '../helper.js'
import { ALL_AGS_SCOPES, startAdvantageStub, startFakeHubApi, type AdvantageStub, type FakeHubApi } from '../support/advantage.js'
import { launch } from '../support/launch.js'
import { startPlatform, type TestPlatform } from '../support/platform.js'

const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'
/** The server the broker names after course-42 (label DS101). */
const DS101 = serverNameFor({ id: 'course-42', label: 'DS101' }, true)
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

interface Setup { app: App, platform: TestPlatform, stub: AdvantageStub, hub: FakeHubApi }

async function setup (t: Test, env: Record<string, string> = {}, logStream?: NonNullable<Parameters<typeof build>[1]>['logStream']): Promise<Setup> {
  const platform = await startPlatform(t)
  const holder: { app?: App } = {}
  const stub = await startAdvantageStub(t, { clientId: platform.clientId, toolJwks: () => (holder.app as App).toolKeys.jwks })
  const hub = await startFakeHubApi(t)
  const app = holder.app = await build(t, {
    store: 'memory',
    ...(logStream === undefined ? {} : { logStream }),
    env: {
      ...platform.env,
      token_url: stub.tokenUrl,
      HUB_API_URL: hub.apiUrl,
      HUB_TOKEN_CACHE_SECONDS: '0',
      SCORE_CLAIM_IDLE_MS: '300',
      SCORE_RETRY_BASE_MS: '100',
      SCORE_RETRY_MAX_MS: '200',
      ...env
    }
  })
  return { app, platform, stub, hub }
}

/** A launch into course-42  of a user with this sub and email, with the stub's AGS claim unless told. */
async function launchAs (s: Setup, sub: string, email: string, options: { staff?: boolean, ags?: Record<string, unknown> | null, context?: { id: string, label: string } } = {}): Promise<string> {
  const overrides: Record<string, unknown> = { sub }
  if (options.ags !== null) overrides[LTI_CLAIM.agsEndpoint] = options.ags ?? s.stub.agsClaim()
  const res = await launch(s.app, s.platform, {
    overrides,
    lti: {
      user: { name: sub, email },
      ...(options.staff === true ? { roles: [INSTRUCTOR] } : {}),
      ...(options.context !== undefined ? { context: { ...options.context, title: 'Course', type: ['CourseOffering'] } } : {})
    }
  })
  if (res.res.statusCode >= 400) throw new Error(`launch failed: ${res.res.body}`)
  const services = await s.app.launchServices.byPerson(s.platform.issuer, sub, options.context?.id ?? 'course-42')
  if (services === undefined) throw new Error('no services kept')
  return services.username
}

async function postScore (app: App, token: string | undefined, body: Record<string, unknown>) {
  return await app.inject({ method: 'POST', url: '/scores', payload: body, headers: token === undefined ? {} : { authorization: `token ${token}` } })
}

async function waitFor (app: App, token: string, id: string, done: (body: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {}
  for (let i = 0; i < 100; i++) {
    body = (await app.inject({ method: 'GET', url: `/scores/${id}`, headers: { authorization: `token ${token}` } })).json()
    if (done(body)) return body
    await sleep(50)
  }
  return body
}

t.test('a learner\'s notebook server sends its score: queued (202), then posted to the launch\'s line item with the learner\'s sub', async (t) => {
  const s = await setup(t)
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  s.hub.serverToken('server-token-ada', ada, DS101)
  const res = await postScore(s.app, 'server-token-ada', { scoreGiven: '7.5', scoreMaximum: 10, comment: 'well done' })
  t.equal(res.statusCode, 202, res.body)
  const accepted = res.json()
  t.equal(accepted.state, 'queued')
  t.equal(res.headers.location, `https://tool.test/scores/${accepted.id}`)
  t.equal(accepted.url, res.headers.location)
  const done = await waitFor(s.app, 'server-token-ada', accepted.id, (b) => b.state !== 'queued')
  t.equal(done.state, 'sent')
  t.equal(done.attempts, 1)
  t.equal(s.stub.scores.length, 1)
  const posted = s.stub.scores[0]
  t.equal(posted?.lineitem, `${s.stub.url}/lineitems/1/lineitem`)
  t.match(posted?.body, { userId: 'sub-ada', scoreGiven: 7.5, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded', comment: 'well done' })
  t.ok(typeof posted?.body.timestamp === 'string')
  const assertion = s.stub.assertions[0]
  t.match(assertion, { iss: s.platform.clientId, sub: s.platform.clientId, aud: s.stub.tokenUrl })
  t.ok((assertion?.exp as number) - (assertion?.iat as number) <= 300, 'a short-lived assertion')
  t.equal(s.stub.scopesAsked[0], 'https://purl.imsglobal.org/spec/lti-ags/scope/score')

  // A second score reuses the cached platform token.
  const again = await postScore(s.app, 'server-token-ada', { scoreGiven: 9, scoreMaximum: 10 })
  t.equal((await waitFor(s.app, 'server-token-ada', again.json().id, (b) => b.state !== 'queued')).state, 'sent')
  t.equal(s.stub.tokensIssued, 1, 'one token for both scores')

  // An expired (refused) token is replaced once.
  s.stub.validTokens.clear()
  const third = await postScore(s.app, 'server-token-ada', { scoreGiven: 10, scoreMaximum: 10 })
  t.equal((await waitFor(s.app, 'server-token-ada', third.json().id, (b) => b.state !== 'queued')).state, 'sent')
  t.equal(s.stub.tokensIssued, 2, 'a fresh token after the 401')
  t.equal(s.stub.scores.length, 3)
})

t.test('a score per assignment: the line item is created once (resourceId and tag), then found', async (t) => {
  const s = await setup(t)
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  s.hub.serverToken('tok', ada, DS101)
  const first = await postScore(s.app, 'tok', { scoreGiven: 3, scoreMaximum: 5, assignment: 'ps1', assignmentLabel: 'Problem set 1' })
  t.equal(first.statusCode, 202, first.body)
  t.equal((await waitFor(s.app, 'tok', first.json().id, (b) => b.state !== 'queued')).state, 'sent')
  const second = await postScore(s.app, 'tok', { scoreGiven: 4, scoreMaximum: 5, assignment: 'ps1' })
  t.equal((await waitFor(s.app, 'tok', second.json().id, (b) => b.state !== 'queued')).state, 'sent')
  t.equal(s.stub.lineItemsCreated, 1)
  t.match(s.stub.lineItems[0], { label: 'Problem set 1', resourceId: 'ps1', tag: 'ps1', scoreMaximum: 5 })
  t.same(s.stub.scores.map((score) => score.lineitem), [s.stub.lineItems[0]?.id, s.stub.lineItems[0]?.id])

  // Two first scores of a new assignment at once make one line item.
  const [a, b] = await Promise.all([
    postScore(s.app, 'tok', { scoreGiven: 1, scoreMaximum: 5, assignment: 'ps2' }),
    postScore(s.app, 'tok', { scoreGiven: 2, scoreMaximum: 5, assignment: 'ps2' })
  ])
  for (const res of [a, b]) t.equal((await waitFor(s.app, 'tok', res.json().id, (r) => r.state !== 'queued')).state, 'sent')
  t.equal(s.stub.lineItems.filter((item) => item.resourceId === 'ps2').length, 1, 'one line item for ps2')
  t.equal(s.stub.scores.length, 4)
})

t.test('staff send scores for the course\'s learners; learners only for themselves', async (t) => {
  const s = await setup(t)
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  const grace = await launchAs(s, 'sub-grace', 'grace@example.org', { staff: true })
  s.hub.serverToken('tok-ada', ada, DS101)
  s.hub.serverToken('tok-grace', grace, DS101)
  const byStaff = await postScore(s.app, 'tok-grace', { scoreGiven: 8, scoreMaximum: 10, user: ada })
  t.equal(byStaff.statusCode, 202, byStaff.body)
  t.equal(byStaff.json().user, ada)
  t.equal((await waitFor(s.app, 'tok-grace', byStaff.json().id, (b) => b.state !== 'queued')).state, 'sent')
  t.equal(s.stub.scores[0]?.body.userId, 'sub-ada', 'posted for the learner')

  const byLearner = await postScore(s.app, 'tok-ada', { scoreGiven: 10, scoreMaximum: 10, user: grace })
  t.equal(byLearner.statusCode, 403)
  t.equal(byLearner.json().code, 'TOOL_AUTH_SCORE_NOT_STAFF')
  const unknown = await postScore(s.app, 'tok-grace', { scoreGiven: 1, scoreMaximum: 10, user: 'nobody@example.org' })
  t.equal(unknown.statusCode, 403)
  t.equal(unknown.json().code, 'TOOL_AUTH_SCORE_USER_UNKNOWN')
  // The learner cannot read the staff member's score record, even about them.
  const peek = await s.app.inject({ method: 'GET', url: `/scores/${byStaff.json().id as string}`, headers: { authorization: 'token tok-ada' } })
  t.equal(peek.statusCode, 404)
  t.equal(peek.json().code, 'TOOL_AUTH_SCORE_UNKNOWN')
})

t.test('refusals, each with a stable code', async (t) => {
  const s = await setup(t)
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  const noAgs = await launchAs(s, 'sub-bob', 'bob@example.org', { ags: null })
  const evil = await launchAs(s, 'sub-eve', 'eve@example.org', { ags: { scope: ALL_AGS_SCOPES, lineitem: 'http://169.254.169.254/latest/meta-data' } })
  s.hub.serverToken('tok-ada', ada, DS101)
  s.hub.serverToken('tok-ada-other', ada, 'ml201')
  s.hub.serverToken('tok-bob', noAgs, DS101)
  s.hub.serverToken('tok-eve', evil, DS101)
  s.hub.userToken('tok-ada-own', ada)
  const good = { scoreGiven: 1, scoreMaximum: 2 }
  const cases: Array<[string, string | undefined, Record<string, unknown>, number, string]> = [
    ['no token', undefined, good, 401, 'TOOL_AUTH_HUB_TOKEN_MISSING'],
    ['a token the hub does not know', 'forged', good, 401, 'TOOL_AUTH_HUB_TOKEN_INVALID'],
    ['a user\'s own token, of no one server', 'tok-ada-own', good, 403, 'TOOL_AUTH_SCORE_NOT_FROM_SERVER'],
    ['a server of a course without a launch', 'tok-ada-other', good, 403, 'TOOL_AUTH_SCORE_NO_LAUNCH'],
    ['a server naming another course', 'tok-ada', { ...good, course: 'course-99' }, 403, 'TOOL_AUTH_SCORE_COURSE_MISMATCH'],
    ['a negative score', 'tok-ada', { scoreGiven: -1, scoreMaximum: 2 }, 400, 'TOOL_AUTH_'],
    ['a score that is no number', 'tok-ada', { scoreGiven: 'lots', scoreMaximum: 2 }, 400, 'TOOL_AUTH_'],
    ['a zero maximum', 'tok-ada', { scoreGiven: 0, scoreMaximum: 0 }, 400, 'TOOL_AUTH_'],
    ['an unknown activityProgress', 'tok-ada', { ...good, activityProgress: 'Done' }, 400, 'TOOL_AUTH_'],
    ['a timestamp that is no date', 'tok-ada', { ...good, timestamp: 'yesterday' }, 400, 'TOOL_AUTH_SCORE_INVALID'],
    ['a launch without AGS', 'tok-bob', good, 409, 'TOOL_AUTH_SCORE_NO_GRADE_SERVICE'],
    ['a launch whose line item is off the platform\'s hosts', 'tok-eve', good, 409, 'TOOL_AUTH_SCORE_NO_GRADE_SERVICE']
  ]
  for (const [what, token, body, status, code] of cases) {
    const res = await postScore(s.app, token, body)
    t.equal(res.statusCode, status, `${what}: ${res.body}`)
    t.match(res.json().code, new RegExp(`^${code}`), what)
  }
  t.equal(s.stub.tokensIssued, 0, 'no refused score reached the platform')

  s.stub.tokenMode = 'refuse'
  const refused = await postScore(s.app, 'tok-ada', good)
  t.equal(refused.statusCode, 422)
  t.equal(refused.json().code, 'TOOL_AUTH_PLATFORM_TOKEN_REFUSED')
  t.match(refused.json().message, /invalid_scope \(the tool was not granted these scopes\)/, 'the platform\'s own error is shown')
})

t.test('a platform that is down is retried with backoff until it takes the score; a refusal fails it with the platform\'s words', async (t) => {
  const s = await setup(t, { SCORE_MAX_ATTEMPTS: '4' })
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  s.hub.serverToken('tok', ada, DS101)
  s.stub.scoreMode = 'down'
  const res = await postScore(s.app, 'tok', { scoreGiven: 1, scoreMaximum: 1 })
  const id = res.json().id as string
  const retrying = await waitFor(s.app, 'tok', id, (b) => (b.attempts as number) >= 2)
  t.equal(retrying.state, 'queued')
  t.match(retrying.lastError, /gradebook is being upgraded/)
  s.stub.scoreMode = 'ok'
  const sent = await waitFor(s.app, 'tok', id, (b) => b.state !== 'queued')
  t.equal(sent.state, 'sent')
  t.notOk('lastError' in sent)

  s.stub.scoreMode = 'down'
  const bounded = await postScore(s.app, 'tok', { scoreGiven: 1, scoreMaximum: 1 })
  const failed = await waitFor(s.app, 'tok', bounded.json().id, (b) => b.state !== 'queued')
  t.equal(failed.state, 'failed')
  t.equal(failed.attempts, 4, 'SCORE_MAX_ATTEMPTS attempts')
  t.match(failed.lastError, /503/)

  s.stub.scoreMode = 'refuse'
  const refused = await postScore(s.app, 'tok', { scoreGiven: 1, scoreMaximum: 1 })
  const once = await waitFor(s.app, 'tok', refused.json().id, (b) => b.state !== 'queued')
  t.equal(once.state, 'failed')
  t.equal(once.attempts, 1, 'a refusal is not retried')
  t.match(once.lastError, /userId is not enrolled in this course/)
})

t.test('without HUB_API_URL the scores API is off', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await postScore(app, 'x', { scoreGiven: 1, scoreMaximum: 1 })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'TOOL_AUTH_SCORES_OFF')
})

t.test('a launch keeps its AGS and NRPS endpoints per person, per hub user and per course; URLs off the platform\'s hosts are dropped', async (t) => {
  const s = await setup(t)
  const memberships = `${s.stub.url}/memberships`
  const res = await launch(s.app, s.platform, {
    overrides: { sub: 'sub-ada', [LTI_CLAIM.agsEndpoint]: s.stub.agsClaim(), [LTI_CLAIM.nrps]: { context_memberships_url: memberships, service_versions: ['2.0'] } },
    lti: { user: { name: 'Ada', email: 'ada@example.org' } }
  })
  t.equal(res.res.statusCode, 303)
  const byPerson = await s.app.launchServices.byPerson(s.platform.issuer, 'sub-ada', 'course-42')
  t.match(byPerson, { username: 'ada@example.org', role: 'learner', serverName: DS101, nrps: { contextMembershipsUrl: memberships, serviceVersions: ['2.0'] }, ags: { lineitems: `${s.stub.url}/lineitems` } })
  t.same(await s.app.launchServices.byUser('ada@example.org', 'course-42'), byPerson)
  t.same(await s.app.launchServices.byServer('ada@example.org', DS101), byPerson)
  t.match(await s.app.launchServices.course(s.platform.issuer, 'course-42'), { nrps: { contextMembershipsUrl: memberships } })

  // Another launch of the course whose memberships URL points elsewhere: dropped; the course keeps the good one.
  await launch(s.app, s.platform, {
    overrides: { sub: 'sub-eve', [LTI_CLAIM.nrps]: { context_memberships_url: 'http://10.0.0.1/members', service_versions: ['2.0'] } },
    lti: { user: { name: 'Eve', email: 'eve@example.org' } }
  })
  const eve = await s.app.launchServices.byPerson(s.platform.issuer, 'sub-eve', 'course-42')
  t.ok(eve)
  t.notOk(eve?.nrps, 'the off-host memberships URL is not kept')
  t.match(await s.app.launchServices.course(s.platform.issuer, 'course-42'), { nrps: { contextMembershipsUrl: memberships } })
})

t.test('from a hub\'s default server (no named servers) the course is the one named, else the latest launch', async (t) => {
  const s = await setup(t)
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  await launchAs(s, 'sub-ada', 'ada@example.org', { context: { id: 'course-7', label: 'ML7' }, ags: null })
  s.hub.serverToken('tok-default', ada, '')
  const latest = await postScore(s.app, 'tok-default', { scoreGiven: 1, scoreMaximum: 2 })
  t.equal(latest.statusCode, 409, 'the latest launch (course-7) has no grade service')
  t.equal(latest.json().code, 'TOOL_AUTH_SCORE_NO_GRADE_SERVICE')
  const named = await postScore(s.app, 'tok-default', { scoreGiven: 1, scoreMaximum: 2, course: 'course-42' })
  t.equal(named.statusCode, 202, named.body)
  t.equal(named.json().course, 'course-42')
  const unknown = await postScore(s.app, 'tok-default', { scoreGiven: 1, scoreMaximum: 2, course: 'course-99' })
  t.equal(unknown.statusCode, 403)
  t.equal(unknown.json().code, 'TOOL_AUTH_SCORE_NO_LAUNCH')
})

t.test('an accepted score and a refused one each leave an audit event (tool.score.posted), without the server\'s token', async (t) => {
  const log = logCapture()
  const s = await setup(t, { LOG_LEVEL: 'warn' }, log.stream)
  const ada = await launchAs(s, 'sub-ada', 'ada@example.org')
  s.hub.serverToken('server-token-ada', ada, DS101)
  t.equal((await postScore(s.app, 'server-token-ada', { scoreGiven: 8, scoreMaximum: 10 })).statusCode, 202)
  const refused = await postScore(s.app, 'server-token-ada', { scoreGiven: 8, scoreMaximum: 10, user: 'someone-else' })
  t.equal(refused.statusCode, 403, refused.body)
  const events = log.audit().filter((event) => event.type === 'tool.score.posted')
  t.equal(events.length, 2)
  const [accepted, refusal] = events
  t.equal(accepted?.outcome, 'success')
  t.same(accepted?.actor, { issuer: s.platform.issuer, sub: 'sub-ada', username: ada, role: 'learner' })
  t.match(accepted?.target, { issuer: s.platform.issuer, context_id: 'course-42', username: ada })
  t.equal(refusal?.outcome, 'failure')
  t.equal(refusal?.error_code, refused.json().code)
  t.notOk(JSON.stringify(events).includes('server-token-ada'), 'the token is in no event')
})
