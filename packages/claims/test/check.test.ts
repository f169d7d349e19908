import t from 'tap'
import { checkAudience, checkLaunchClaims, LTI_CLAIM, MESSAGE_TYPE } from '../src/index.js'
import { ALL_FIXTURES, canvasInstructor, deepLinkingRequest, omit, ROLE_FIXTURES, sakaiStudent } from './fixtures/index.js'

const launch = canvasInstructor.payload
const deepLink = deepLinkingRequest.payload

function codes (payload: Record<string, unknown>, options?: { deepLinking?: boolean }): string[] {
  return checkLaunchClaims(payload, options).problems.map((problem) => problem.code)
}

t.test('every fixture is a valid launch', async (t) => {
  for (const fixture of ALL_FIXTURES) {
    const result = checkLaunchClaims(fixture.payload)
    t.same(result, { ok: true, problems: [] }, fixture.name)
  }
})

t.test('a role fixture that is no valid launch gives the problems it states', async (t) => {
  const invalid = ROLE_FIXTURES.filter((fixture) => fixture.expect.problems !== undefined)
  t.ok(invalid.length > 0)
  for (const fixture of invalid) t.same(codes(fixture.payload), fixture.expect.problems, fixture.name)
})

t.test('LTI_VERSION_INVALID: the version must be 1.3.0', async (t) => {
  t.same(codes({ ...launch, [LTI_CLAIM.version]: '1.1' }), ['LTI_VERSION_INVALID'])
  t.same(codes({ ...launch, [LTI_CLAIM.version]: 1.3 }), ['LTI_VERSION_INVALID'])
  t.same(codes(omit(launch, LTI_CLAIM.version)), ['LTI_VERSION_INVALID'])
  const [problem] = checkLaunchClaims({ ...launch, [LTI_CLAIM.version]: '1.1' }).problems
  t.equal(problem?.claim, LTI_CLAIM.version)
  t.match(problem?.message, /"1\.1"/, 'the message says what was sent')
  t.match(problem?.message, /1\.3\.0/, 'and what is expected')
})

t.test('LTI_MESSAGE_TYPE_UNKNOWN: missing or not a launch', async (t) => {
  t.same(codes(omit(launch, LTI_CLAIM.messageType)), ['LTI_MESSAGE_TYPE_UNKNOWN'])
  t.same(codes({ ...launch, [LTI_CLAIM.messageType]: 'basic-lti-launch-request' }), ['LTI_MESSAGE_TYPE_UNKNOWN'])
  t.same(codes({ ...launch, [LTI_CLAIM.messageType]: MESSAGE_TYPE.deepLinkingResponse }), ['LTI_MESSAGE_TYPE_UNKNOWN'], 'a response is not a launch')
  const [problem] = checkLaunchClaims(omit(launch, LTI_CLAIM.messageType)).problems
  t.match(problem?.message, /missing/)
})

t.test('LTI_MESSAGE_TYPE_UNSUPPORTED: deep linking can be turned off', async (t) => {
  t.same(codes(deepLink, { deepLinking: false }), ['LTI_MESSAGE_TYPE_UNSUPPORTED'])
  t.same(codes(deepLink, { deepLinking: true }), [])
  t.same(codes(launch, { deepLinking: false }), [], 'resource links are unaffected')
})

t.test('LTI_DEPLOYMENT_ID_MISSING', async (t) => {
  t.same(codes(omit(launch, LTI_CLAIM.deploymentId)), ['LTI_DEPLOYMENT_ID_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.deploymentId]: '' }), ['LTI_DEPLOYMENT_ID_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.deploymentId]: { id: 1 } }), ['LTI_DEPLOYMENT_ID_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.deploymentId]: 7 }), [], 'a numeric deployment id is accepted')
})

t.test('LTI_ROLES_MISSING: absent or not a list; empty is fine', async (t) => {
  t.same(codes(omit(launch, LTI_CLAIM.roles)), ['LTI_ROLES_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.roles]: null }), ['LTI_ROLES_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.roles]: { 0: 'Learner' } }), ['LTI_ROLES_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.roles]: [] }), [], 'an empty array is allowed by the spec')
  t.same(codes({ ...launch, [LTI_CLAIM.roles]: 'Learner' }), [], 'a single string is accepted')
  t.same(codes({ ...launch, [LTI_CLAIM.roles]: ['Learner', 42] }), [], 'junk entries are dropped later, not refused')
  t.same(codes(omit(deepLink, LTI_CLAIM.roles)), ['LTI_ROLES_MISSING'], 'deep linking requests need roles too')
})

t.test('LTI_RESOURCE_LINK_MISSING and LTI_RESOURCE_LINK_ID_EMPTY (resource link requests)', async (t) => {
  t.same(codes(omit(launch, LTI_CLAIM.resourceLink)), ['LTI_RESOURCE_LINK_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.resourceLink]: 'abc' }), ['LTI_RESOURCE_LINK_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.resourceLink]: { id: '' } }), ['LTI_RESOURCE_LINK_ID_EMPTY'])
  t.same(codes({ ...launch, [LTI_CLAIM.resourceLink]: { id: '   ' } }), ['LTI_RESOURCE_LINK_ID_EMPTY'])
  t.same(codes({ ...launch, [LTI_CLAIM.resourceLink]: { title: 'x' } }), ['LTI_RESOURCE_LINK_ID_EMPTY'])
  t.same(codes({ ...launch, [LTI_CLAIM.resourceLink]: { id: 0 } }), [], 'a numeric id is accepted')
  t.same(codes(deepLink), [], 'deep linking requests have no resource link')
})

t.test('LTI_TARGET_LINK_URI_MISSING (resource link requests)', async (t) => {
  t.same(codes(omit(launch, LTI_CLAIM.targetLinkUri)), ['LTI_TARGET_LINK_URI_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.targetLinkUri]: '' }), ['LTI_TARGET_LINK_URI_MISSING'])
  t.same(codes(omit(deepLink, LTI_CLAIM.targetLinkUri)), [], 'the deep linking spec does not require it')
})

t.test('LTI_DEEP_LINKING_SETTINGS_MISSING and LTI_DEEP_LINK_RETURN_URL_MISSING', async (t) => {
  t.same(codes(omit(deepLink, LTI_CLAIM.deepLinkingSettings)), ['LTI_DEEP_LINKING_SETTINGS_MISSING'])
  t.same(codes({ ...deepLink, [LTI_CLAIM.deepLinkingSettings]: [] }), ['LTI_DEEP_LINKING_SETTINGS_MISSING'])
  const settings = deepLink[LTI_CLAIM.deepLinkingSettings] as Record<string, unknown>
  t.same(codes({ ...deepLink, [LTI_CLAIM.deepLinkingSettings]: omit(settings, 'deep_link_return_url') }), ['LTI_DEEP_LINK_RETURN_URL_MISSING'])
  t.same(codes({ ...deepLink, [LTI_CLAIM.deepLinkingSettings]: { ...settings, deep_link_return_url: '' } }), ['LTI_DEEP_LINK_RETURN_URL_MISSING'])
  t.same(codes(omit(launch, LTI_CLAIM.deepLinkingSettings)), [], 'resource links need no settings')
})

t.test('LTI_CONTEXT_ID_MISSING; an empty label is fine', async (t) => {
  t.same(codes({ ...launch, [LTI_CLAIM.context]: { label: 'DS101', title: 'Data Science' } }), ['LTI_CONTEXT_ID_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.context]: { id: '' } }), ['LTI_CONTEXT_ID_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.context]: 'DS101' }), ['LTI_CONTEXT_ID_MISSING'])
  t.same(codes({ ...launch, [LTI_CLAIM.context]: { id: 'c1', label: '', title: '' } }), [], 'empty label and title are fine')
  t.same(codes(omit(launch, LTI_CLAIM.context)), [], 'no context at all is fine')
})

t.test('LTI_AZP_MISSING when aud has several values and no azp', async (t) => {
  t.same(codes(omit(deepLink, 'azp')), ['LTI_AZP_MISSING'])
  t.same(codes({ ...omit(sakaiStudent.payload, 'azp') }), [], 'an array of one needs no azp')
  t.same(codes(omit(launch, 'azp')), [], 'a string aud needs no azp')
})

t.test('a missing sub is not a problem (anonymous launch)', async (t) => {
  t.same(checkLaunchClaims(omit(launch, 'sub', 'name', 'email')), { ok: true, problems: [] })
})

t.test('every problem is reported at once, each with a message', async (t) => {
  const result = checkLaunchClaims({ aud: ['a', 'b'], [LTI_CLAIM.messageType]: MESSAGE_TYPE.resourceLink, [LTI_CLAIM.context]: {} })
  t.equal(result.ok, false)
  t.same(result.problems.map((problem) => problem.code).sort(), [
    'LTI_AZP_MISSING',
    'LTI_CONTEXT_ID_MISSING',
    'LTI_DEPLOYMENT_ID_MISSING',
    'LTI_RESOURCE_LINK_MISSING',
    'LTI_ROLES_MISSING',
    'LTI_TARGET_LINK_URI_MISSING',
    'LTI_VERSION_INVALID'
  ])
  for (const problem of result.problems) {
    t.ok(problem.message.length > 20, `${problem.code} has a message a person can read`)
    t.type(problem.claim, 'string', `${problem.code} names its claim`)
  }
  const empty = checkLaunchClaims({})
  t.same(empty.problems.map((problem) => problem.code).sort(), ['LTI_DEPLOYMENT_ID_MISSING', 'LTI_MESSAGE_TYPE_UNKNOWN', 'LTI_ROLES_MISSING', 'LTI_VERSION_INVALID'])
})

t.test('checkAudience: aud must name one of our client ids', async (t) => {
  t.same(checkAudience(launch, ['10000000000042']), { ok: true, clientId: '10000000000042' })
  t.same(checkAudience(omit(launch, 'azp'), ['other', '10000000000042']), { ok: true, clientId: '10000000000042' })
  t.same(checkAudience(sakaiStudent.payload, ['fa7c1f6c-6e4b-4a26-9b0b-7e1d8f5c2a3b']).ok, true, 'an array aud of one')
  const wrong = checkAudience(launch, ['somebody-else'])
  t.equal(wrong.ok, false)
  t.equal(wrong.code, 'LTI_AUD_MISMATCH')
  t.match(wrong.message, /aud/)
  t.equal(checkAudience(omit(launch, 'aud'), ['10000000000042']).code, 'LTI_AUD_MISMATCH', 'no aud at all')
  t.equal(checkAudience({ aud: [42] }, ['42']).code, 'LTI_AUD_MISMATCH', 'non-string audiences are ignored')
  t.equal(checkAudience(launch, []).code, 'LTI_AUD_MISMATCH', 'no client ids registered')
})

t.test('checkAudience: several audiences need azp, and azp must be ours and in aud', async (t) => {
  const ids = ['10000000000042']
  t.same(checkAudience(deepLink, ids), { ok: true, clientId: '10000000000042' })
  t.equal(checkAudience(omit(deepLink, 'azp'), ids).code, 'LTI_AZP_MISSING')
  t.equal(checkAudience({ ...deepLink, azp: 'https://canvas.instructure.com/login/oauth2/token' }, ids).code, 'LTI_AZP_MISMATCH', 'azp in aud but not ours')
  t.equal(checkAudience({ ...launch, azp: 'someone-else' }, ids).code, 'LTI_AZP_MISMATCH', 'azp present with a single aud is still checked')
  t.equal(checkAudience({ aud: ['10000000000042', 'x'], azp: '99' }, ['10000000000042', '99']).code, 'LTI_AZP_MISMATCH', 'azp ours but not in aud')
  t.equal(checkAudience({ ...launch, azp: 42 }, ids).code, 'LTI_AZP_MISMATCH', 'a non-string azp')
  t.same(checkAudience({ aud: ['a', 'b'], azp: 'b' }, ['a', 'b']), { ok: true, clientId: 'b' }, 'azp decides which client when several match')
})
