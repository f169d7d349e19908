/**
 * Scenario 15: an LTI 1.3 tool nobody here wrote uses our platform's
 * Assignment and Grade Services 2.0 and Names and Role Provisioning
 * Services 2.0. PyLTI1p3 (PyPI) with its Flask adapter is configured with
 * our issuer, client ids, auth_login_url, auth_token_url (/lti/token),
 * key_set_url and its own key (its /jwks registered at the platform).
 *
 * ada (learner) and grace (staff) launch it from the platform like a
 * browser. In its launch handler PyLTI1p3's has_ags() and has_nrps() hold;
 * its NRPS client reads the course roster a page at a time and whole; its
 * AGS client finds or creates the activity's line item, puts ada's grade,
 * reads the results. The platform's gradebook (the course page, as grace)
 * and its host API show ada's score on that line item.
 *
 * Refusals through PyLTI1p3: a score for someone outside the course
 * (PLATFORM_SCORE_USER_NOT_MEMBER), and a registration without the score
 * scope: PyLTI1p3 itself refuses put_grade (the claim does not grant it),
 * and asked anyway, the platform answers PLATFORM_SERVICE_SCOPE_MISSING.
 */
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { startPylti1p3Tool, type Pylti1p3LaunchRecord } from '../peers/pylti1p3-tool.js'
import { stepsOf } from './launch.js'
import { launchFormFields, planStack, signIn, startStack, type DemoUser, type ToolRegistration } from './stack.js'

const PYLTI = 'pylti1p3-e2e-tool'
const PYLTI_NO_SCORE = 'pylti1p3-e2e-no-score'
const AGS = 'https://purl.imsglobal.org/spec/lti-ags/scope/'
const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly'
const COURSE = 'ds101'
const ACTIVITY = { tag: 'e2e-quiz-1', label: 'Quiz 1 (PyLTI1p3)', resource_id: 'quiz-1', score_maximum: 10, score_given: 8, comment: 'graded by PyLTI1p3' }
const NOT_A_MEMBER = 'not-a-member-of-ds101'

const started = Date.now()
const plan = await planStack('s15')
const platform = plan.platformUrl
const apiKey = randomBytes(32).toString('hex')

// The tool first (the platform's registrations name its URLs), then the platform.
const tool = await startPylti1p3Tool(t, {
  name: 's15-pylti1p3',
  issuer: platform,
  clients: [{ client_id: PYLTI, deployment_ids: ['1'] }, { client_id: PYLTI_NO_SCORE, deployment_ids: ['1'] }],
  authLoginUrl: `${platform}/lti/authorize`,
  authTokenUrl: `${platform}/lti/token`,
  keySetUrl: `${platform}/.well-known/jwks.json`,
  activity: ACTIVITY,
  otherUserId: NOT_A_MEMBER,
  nrpsPageLimit: 2
})
const registration = (clientId: string, name: string, scopes?: string[]): ToolRegistration => ({
  client_id: clientId,
  name,
  deployment_ids: ['1'],
  initiate_login_uri: tool.loginUrl,
  target_link_uri: tool.launchUrl,
  redirect_uris: [tool.launchUrl],
  jwks_uri: tool.jwksUrl,
  send_name: true,
  send_email: true,
  ...(scopes === undefined ? {} : { scopes })
})
await startStack(t, plan, {
  ourTool: false,
  tools: [
    registration(PYLTI, 'A PyLTI1p3 tool'), // every service scope (the default with jwks_uri)
    registration(PYLTI_NO_SCORE, 'A PyLTI1p3 tool without scores', [`${AGS}lineitem`, `${AGS}result.readonly`, NRPS_SCOPE])
  ],
  env: { platform: { PLATFORM_API_KEYS: `sha256:${createHash('sha256').update(apiKey).digest('hex')}` } }
})
t.comment(`PyLTI1p3 tool and platform ready in ${Date.now() - started} ms (tool ${tool.proc.startMs} ms)`)

async function launchTool (user: DemoUser, clientId: string): Promise<{ record: Pylti1p3LaunchRecord, body: string, client: BrowserClient }> {
  const client = new BrowserClient()
  const home = await signIn(client, platform, user)
  const before = (await tool.launches()).length
  const launch = await client.followLaunch(`${platform}/launch`, {
    method: 'POST',
    form: launchFormFields(home, { client_id: clientId, course: COURSE }),
    initiator: home.url,
    maxSteps: 20
  })
  if (launch.page.status !== 200 || !launch.page.body.includes('PyLTI1p3 accepted the launch')) {
    throw new Error(`${user}'s launch of ${clientId} did not reach the tool's page: ${launch.page.status}\n${launch.page.body.slice(0, 800)}\n${stepsOf(launch)}`)
  }
  const records = await tool.launches()
  if (records.length !== before + 1) throw new Error(`the tool recorded ${records.length - before} launches`)
  return { record: records.at(-1) as Pylti1p3LaunchRecord, body: launch.page.body, client }
}

const step = (record: Pylti1p3LaunchRecord, name: string): { ok: boolean, value?: unknown, status?: number, body?: unknown, error?: string, message?: string } => {
  const found = record.steps[name]
  if (found === undefined) throw new Error(`the tool did no ${name}: ${JSON.stringify(Object.keys(record.steps))}`)
  return found
}

let adaSub = ''
let lineItemId = ''

t.test('ada (learner) launches the PyLTI1p3 tool: its AGS and NRPS clients work against the platform', async (t) => {
  const { record } = await launchTool('ada', PYLTI)
  adaSub = record.sub ?? ''
  t.ok(adaSub, 'PyLTI1p3 validated the launch (sub)')
  t.equal(record.client_id, PYLTI)
  t.equal(record.learner, true, 'PyLTI1p3 sees a learner')
  t.equal(record.has_ags, true, 'has_ags()')
  t.equal(record.has_nrps, true, 'has_nrps()')
  t.same([...(record.ags_claim?.scope ?? [])].sort(), [`${AGS}lineitem`, `${AGS}lineitem.readonly`, `${AGS}result.readonly`, `${AGS}score`].sort(), 'the AGS claim grants the four scopes')
  t.match(record.ags_claim?.lineitems, `${platform}/lti/courses/${COURSE}/lineitems`, 'the course\'s line items container')
  t.same(record.ags_can, { read_lineitem: true, create_lineitem: true, put_grade: true, read_grades: true })
  t.match(record.nrps_claim, { context_memberships_url: `${platform}/lti/courses/${COURSE}/memberships`, service_versions: ['2.0'] })

  // NRPS: page by page (2 a page) and whole, the same members.
  const pages = step(record, 'nrps_pages')
  t.ok(pages.ok, JSON.stringify(pages))
  const pageList = pages.value as Array<{ user_ids: string[], next: string | null }>
  t.equal(pageList.length, 2, 'three members, two a page: two pages')
  t.same(pageList.map((page) => page.user_ids.length), [2, 1])
  t.match(pageList[0]?.next, /[?&]offset=2/, 'PyLTI1p3 followed the platform\'s rel="next" link')
  const whole = step(record, 'get_members')
  t.ok(whole.ok, JSON.stringify(whole))
  const members = whole.value as Array<{ user_id: string, roles: string[], name?: string, email?: string, status?: string }>
  t.equal(members.length, 3, 'ada, grace and alan are in ds101')
  t.same(members.map((member) => member.user_id).sort(), pageList.flatMap((page) => page.user_ids).sort(), 'the pages hold the same members')
  t.match(members.find((member) => member.user_id === adaSub), { name: 'Ada Lovelace', email: 'ada@example.edu' }, 'ada, by her sub')
  t.ok(members.find((member) => member.user_id === adaSub)?.roles.some((role) => /membership#Learner$/.test(role)), 'as a learner')
  t.ok(members.some((member) => member.name === 'Grace Hopper' && member.roles.some((role) => /membership#Instructor$/.test(role))), 'grace, as an instructor')

  // AGS: the line item (created: there was none), ada's grade, the results.
  const created = step(record, 'find_or_create_lineitem')
  t.ok(created.ok, JSON.stringify(created))
  const item = created.value as { id: string, label: string, scoreMaximum: number, tag: string, resourceId: string }
  t.match(item, { label: ACTIVITY.label, scoreMaximum: ACTIVITY.score_maximum, tag: ACTIVITY.tag, resourceId: ACTIVITY.resource_id })
  t.match(item.id, new RegExp(`^${platform}/lti/courses/${COURSE}/lineitems/[^/?]+$`), 'a line item URL of the course')
  lineItemId = item.id
  const put = step(record, 'put_grade')
  t.ok(put.ok, `put_grade: ${JSON.stringify(put)}`)
  const results = step(record, 'get_grades')
  t.ok(results.ok, JSON.stringify(results))
  t.match(results.value, [{ userId: adaSub, resultScore: 8, resultMaximum: 10, scoreOf: lineItemId }], 'get_grades: ada\'s 8 of 10 on that line item')
  t.equal((results.value as unknown[]).length, 1, 'and no other result')
  // The container: the resource link's own line item (the claim's lineitem) and the activity's.
  const items = step(record, 'get_lineitems')
  t.ok(items.ok)
  const linkItem = record.ags_claim?.lineitem
  t.ok(linkItem, 'the claim names the resource link\'s line item')
  t.same((items.value as Array<{ id: string }>).map((listed) => listed.id).sort(), [lineItemId, linkItem].sort(), 'get_lineitems lists both')

  // Refused: a score for someone outside the course.
  const stranger = step(record, 'put_grade_not_a_member')
  t.equal(stranger.ok, false, 'a score for a non-member is refused')
  t.equal(stranger.error, 'LtiServiceException')
  t.equal(stranger.status, 422)
  t.match(stranger.body, { code: 'PLATFORM_SCORE_USER_NOT_MEMBER' })
})

t.test('grace (staff) launches it: the same line item is found, with ada\'s result', async (t) => {
  const { record } = await launchTool('grace', PYLTI)
  t.equal(record.learner, false, 'PyLTI1p3 sees staff')
  t.equal(record.has_ags, true)
  t.equal(record.has_nrps, true)
  t.notOk('put_grade' in record.steps, 'staff post no grade of their own')
  t.match(step(record, 'find_or_create_lineitem'), { ok: true, value: { id: lineItemId } }, 'found by its tag, not created again')
  t.match(step(record, 'get_grades'), { ok: true, value: [{ userId: adaSub, resultScore: 8, resultMaximum: 10 }] })
  t.equal((step(record, 'get_lineitems').value as unknown[]).length, 2, 'still the same two line items')
  t.equal((step(record, 'get_members').value as unknown[]).length, 3)
})

t.test('the platform\'s gradebook shows ada\'s 8/10 on that line item', async (t) => {
  const client = new BrowserClient()
  await signIn(client, platform, 'grace')
  const page = await client.get(`${platform}/courses/${COURSE}`)
  t.equal(page.status, 200)
  const rows = page.body.match(/<tr>(?:(?!<\/tr>)[\s\S])*<\/tr>/g) ?? []
  const adaRows = rows.filter((row) => row.includes('<td>Ada Lovelace</td>'))
  t.equal(adaRows.length, 1, `one gradebook row for ada\n${rows.join('\n')}`)
  t.match(adaRows[0], `<td>${ACTIVITY.label}</td><td>8 / 10</td><td>Completed, FullyGraded</td>`, 'ada: 8 / 10 on the PyLTI1p3 line item')

  const reply = await fetch(`${platform}/api/v1/courses/${COURSE}/scores`, { headers: { authorization: `Bearer ${apiKey}` } })
  t.equal(reply.status, 200)
  const { scores } = await reply.json() as { scores: Array<Record<string, unknown>> }
  t.match(scores, [{
    lineItem: { id: lineItemId, label: ACTIVITY.label, scoreMaximum: 10 },
    clientId: PYLTI,
    user: { sub: adaSub, name: 'Ada Lovelace' },
    scoreGiven: 8,
    scoreMaximum: 10,
    comment: ACTIVITY.comment,
    activityProgress: 'Completed',
    gradingProgress: 'FullyGraded'
  }], 'the host API: ada\'s score from the PyLTI1p3 tool')
  t.equal(scores.length, 1, 'one score in the course: the stranger\'s was not kept')
  const wrongKey = await fetch(`${platform}/api/v1/courses/${COURSE}/scores`, { headers: { authorization: `Bearer ${randomBytes(32).toString('hex')}` } })
  t.equal(wrongKey.status, 401, 'the host API needs its key')
})

t.test('a registration without the score scope: PyLTI1p3 refuses put_grade, and the platform refuses it too', async (t) => {
  const { record } = await launchTool('ada', PYLTI_NO_SCORE)
  t.equal(record.has_ags, true)
  t.same([...(record.ags_claim?.scope ?? [])].sort(), [`${AGS}lineitem`, `${AGS}result.readonly`].sort(), 'the claim offers no score scope')
  t.match(record.ags_can, { put_grade: false, create_lineitem: true, read_grades: true })
  t.match(step(record, 'put_grade'), { ok: false, error: 'LtiException', message: /Missing required scope/ }, 'PyLTI1p3 refuses before asking')
  const forced = step(record, 'put_grade_scope_not_granted')
  t.equal(forced.ok, false, 'asked anyway, the platform refuses')
  t.equal(forced.error, 'LtiServiceException')
  t.equal(forced.status, 403)
  t.match(forced.body, { code: 'PLATFORM_SERVICE_SCOPE_MISSING' })
  // Its own line item (another tool's is not visible to it) and no result on it.
  const item = step(record, 'find_or_create_lineitem')
  t.ok(item.ok)
  t.not((item.value as { id: string }).id, lineItemId, 'a tool does not see another tool\'s line item')
  t.same(step(record, 'get_grades').value, [], 'no score was kept for it')

  const reply = await fetch(`${platform}/api/v1/courses/${COURSE}/scores`, { headers: { authorization: `Bearer ${apiKey}` } })
  t.equal((await reply.json() as { scores: unknown[] }).scores.length, 1, 'the gradebook still holds ada\'s one score')
  t.comment(`scenario 15: ${Date.now() - started} ms`)
})
