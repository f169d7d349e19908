import t from 'tap'
import { Value } from 'typebox/value'
import {
  AuthorizationRequestParamsSchema,
  HubUserInfoSchema,
  IdTokenSchema,
  LaunchRecordSchema,
  LaunchStatusSchema,
  LoginInitiationParamsSchema,
  LTI_CLAIM,
  PendingLaunchRequestSchema,
  ROLES,
  type HubUserInfo,
  type IdToken,
  type LaunchRecord,
  type PendingLaunchRequest
} from '../src/index.js'
import { ALL_FIXTURES, canvasInstructor, omit } from './fixtures/index.js'

t.test('IdTokenSchema accepts every fixture', async (t) => {
  for (const fixture of ALL_FIXTURES) {
    const ok = Value.Check(IdTokenSchema, fixture.payload)
    t.ok(ok, fixture.name)
    if (!ok) t.comment([...Value.Errors(IdTokenSchema, fixture.payload)])
  }
})

t.test('IdTokenSchema types the payload', async (t) => {
  const payload: unknown = canvasInstructor.payload
  if (!Value.Check(IdTokenSchema, payload)) throw new Error('the Canvas fixture must match')
  const token: IdToken = payload
  t.equal(token[LTI_CLAIM.resourceLink]?.id, '7f956bcc8f67cd076ae464862ce83596a1bb3293')
  t.equal(token[LTI_CLAIM.context]?.label, 'DS101')
})

t.test('IdTokenSchema refuses what OIDC requires and is missing or mis-typed', async (t) => {
  const payload = canvasInstructor.payload
  t.notOk(Value.Check(IdTokenSchema, omit(payload, 'iss')), 'no iss')
  t.notOk(Value.Check(IdTokenSchema, omit(payload, 'nonce')), 'no nonce')
  t.notOk(Value.Check(IdTokenSchema, { ...payload, exp: 'tomorrow' }), 'exp not a number')
  t.notOk(Value.Check(IdTokenSchema, { ...payload, aud: 42 }), 'aud not a string or array')
  t.notOk(Value.Check(IdTokenSchema, { ...payload, [LTI_CLAIM.resourceLink]: { title: 'no id' } }), 'resource link without id')
  t.ok(Value.Check(IdTokenSchema, omit(payload, 'sub')), 'sub may be absent (anonymous)')
  t.ok(Value.Check(IdTokenSchema, { ...payload, [LTI_CLAIM.roles]: ROLES.membership.Learner }), 'roles as one string')
})

t.test('LoginInitiationParamsSchema', async (t) => {
  const params = { iss: 'https://p', login_hint: 'u1', target_link_uri: 'https://t/launch' }
  t.ok(Value.Check(LoginInitiationParamsSchema, params))
  t.ok(Value.Check(LoginInitiationParamsSchema, { ...params, lti_message_hint: 'h', client_id: 'c', lti_deployment_id: 'd', unknown: 'ignored' }))
  t.notOk(Value.Check(LoginInitiationParamsSchema, omit(params, 'login_hint')))
  t.notOk(Value.Check(LoginInitiationParamsSchema, { ...params, client_id: 5 }))
})

t.test('AuthorizationRequestParamsSchema leaves the checks of values to the platform', async (t) => {
  t.ok(Value.Check(AuthorizationRequestParamsSchema, {}))
  t.ok(Value.Check(AuthorizationRequestParamsSchema, {
    scope: 'openid',
    response_type: 'id_token',
    response_mode: 'form_post',
    prompt: 'none',
    client_id: 'c',
    redirect_uri: 'https://t/cb',
    login_hint: 'u1',
    state: 's',
    nonce: 'n',
    lti_message_hint: 'h',
    extra: 'unknown parameters are ignored'
  }))
  t.notOk(Value.Check(AuthorizationRequestParamsSchema, { state: ['a', 'b'] }), 'a repeated parameter is refused')
})

const pending: PendingLaunchRequest = {
  username: 'ada@example.edu',
  role: 'staff',
  isAdmin: false,
  roles: [ROLES.membership.Instructor],
  user: { sub: 's1', issuer: 'https://canvas.instructure.com', name: 'Ada', email: 'ada@example.edu' },
  platform: { issuer: 'https://canvas.instructure.com', clientId: '10000000000042', deploymentId: 'd1' },
  course: { id: 'c1', label: 'DS101', title: 'Data Science 101' },
  resourceLink: { id: 'r1', title: 'Notebook' },
  image: 'quay.io/jupyter/scipy-notebook',
  custom: { image: 'quay.io/jupyter/scipy-notebook', course_name: 'DS101' },
  claims: { [LTI_CLAIM.roles]: [ROLES.membership.Instructor] }
}

t.test('PendingLaunchRequestSchema: the broker API is strict', async (t) => {
  t.ok(Value.Check(PendingLaunchRequestSchema, pending))
  t.ok(Value.Check(PendingLaunchRequestSchema, omit(pending, 'course', 'image', 'claims')), 'course, image and claims are optional')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, extra: 1 }), 'no unknown top-level properties')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, username: '' }), 'empty username')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, username: 'a'.repeat(256) }), 'username over 255')
  t.ok(Value.Check(PendingLaunchRequestSchema, { ...pending, username: 'a'.repeat(255) }), 'username of 255')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, image: 'x'.repeat(513) }), 'image over 512')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, role: 'admin' }), 'role is staff or learner')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, custom: { n: 1 } }), 'custom values are strings')
  t.notOk(Value.Check(PendingLaunchRequestSchema, omit(pending, 'platform')), 'platform is required')
  t.notOk(Value.Check(PendingLaunchRequestSchema, { ...pending, resourceLink: { id: '' } }), 'resource link id is required')
})

t.test('LaunchStatusSchema and LaunchRecordSchema', async (t) => {
  for (const status of ['pending', 'spawning', 'ready', 'failed']) t.ok(Value.Check(LaunchStatusSchema, status), status)
  t.notOk(Value.Check(LaunchStatusSchema, 'done'))
  const record: LaunchRecord = {
    id: 'l-1',
    status: 'ready',
    username: 'ada@example.edu',
    role: 'staff',
    course: { id: 'c1', title: 'DS101' },
    image: 'quay.io/jupyter/scipy-notebook',
    serverName: 'ds101',
    createdAt: '2024-11-07T17:20:00.000Z',
    updatedAt: '2024-11-07T17:20:31.000Z',
    progress: [
      { at: '2024-11-07T17:20:01.000Z', message: 'Server requested', percent: 0 },
      { at: '2024-11-07T17:20:30.000Z', message: 'Server ready' }
    ],
    serverUrl: '/user/ada@example.edu/ds101/'
  }
  t.ok(Value.Check(LaunchRecordSchema, record))
  t.ok(Value.Check(LaunchRecordSchema, { ...omit(record, 'serverUrl', 'course'), status: 'failed', reason: 'The image is not allowed.' }))
  t.notOk(Value.Check(LaunchRecordSchema, { ...record, progress: [{ at: 'x', message: 'y', percent: 150 }] }), 'percent is at most 100')
  t.notOk(Value.Check(LaunchRecordSchema, omit(record, 'serverName')))
})

t.test('HubUserInfoSchema', async (t) => {
  const info: HubUserInfo = {
    sub: 's1',
    name: 'Ada Lovelace',
    preferred_username: 'ada@example.edu',
    email: 'ada@example.edu',
    groups: ['staff', 'course:c1'],
    admin: false,
    lti: {
      issuer: 'https://canvas.instructure.com',
      client_id: '10000000000042',
      deployment_id: 'd1',
      message_type: 'LtiResourceLinkRequest',
      roles: [ROLES.membership.Instructor],
      role: 'staff',
      context: { id: 'c1', label: 'DS101', type: [] },
      resource_link: { id: 'r1' },
      custom: { image: 'scipy' },
      launch_id: 'l-1',
      image: 'quay.io/jupyter/scipy-notebook'
    }
  }
  t.ok(Value.Check(HubUserInfoSchema, info))
  t.notOk(Value.Check(HubUserInfoSchema, { ...info, admin: 'no' }))
  t.notOk(Value.Check(HubUserInfoSchema, { ...info, lti: omit(info.lti, 'role') }))
})
