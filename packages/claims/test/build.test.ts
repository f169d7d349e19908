import t from 'tap'
import { Value } from 'typebox/value'
import {
  buildLaunchClaims,
  SERVICE_SCOPE,
  checkLaunchClaims,
  CONTEXT_TYPE,
  IdTokenSchema,
  launchSummary,
  LaunchClaimsError,
  LTI_CLAIM,
  ROLES,
  type BuildLaunchInput
} from '../src/index.js'

const input: BuildLaunchInput = {
  deploymentId: 'dep-1',
  targetLinkUri: 'https://tool.example.edu/lti13/launch',
  resourceLink: { id: 'course-v1:MITx+6.86x+2024_T1-notebook', title: 'Notebook' },
  roles: ['Instructor', 'urn:lti:instrole:ims/lis/Administrator'],
  context: { id: 'course-v1:MITx+6.86x+2024_T1', label: '6.86x', title: 'Machine Learning', type: ['CourseOffering'] },
  toolPlatform: { guid: 'learn.mit.edu', name: 'MIT Learn', productFamilyCode: 'ltilaunch', version: '0.1.0' },
  launchPresentation: { documentTarget: 'window', returnUrl: 'https://learn.mit.edu/courses/6.86x', locale: 'en' },
  custom: { image: 'quay.io/jupyter/scipy-notebook', course_name: '6.86x' },
  user: { name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.edu', locale: 'en' }
}

t.test('buildLaunchClaims writes the claims under their URIs, roles and types in full', async (t) => {
  const claims = buildLaunchClaims(input)
  t.same(claims, {
    [LTI_CLAIM.messageType]: 'LtiResourceLinkRequest',
    [LTI_CLAIM.version]: '1.3.0',
    [LTI_CLAIM.deploymentId]: 'dep-1',
    [LTI_CLAIM.targetLinkUri]: 'https://tool.example.edu/lti13/launch',
    [LTI_CLAIM.resourceLink]: { id: 'course-v1:MITx+6.86x+2024_T1-notebook', title: 'Notebook' },
    [LTI_CLAIM.roles]: [ROLES.membership.Instructor, ROLES.institution.Administrator],
    [LTI_CLAIM.context]: { id: 'course-v1:MITx+6.86x+2024_T1', label: '6.86x', title: 'Machine Learning', type: [CONTEXT_TYPE.CourseOffering] },
    [LTI_CLAIM.toolPlatform]: { guid: 'learn.mit.edu', name: 'MIT Learn', version: '0.1.0', product_family_code: 'ltilaunch' },
    [LTI_CLAIM.launchPresentation]: { document_target: 'window', return_url: 'https://learn.mit.edu/courses/6.86x', locale: 'en' },
    [LTI_CLAIM.custom]: { image: 'quay.io/jupyter/scipy-notebook', course_name: '6.86x' },
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    email: 'ada@example.edu',
    locale: 'en'
  })
  t.notOk(Object.values(claims).includes(undefined), 'no undefined values')
  t.not(claims[LTI_CLAIM.custom], input.custom, 'custom is copied, not shared')
})

t.test('a minimal launch: no context, no user (privacy mode)', async (t) => {
  const claims = buildLaunchClaims({ deploymentId: 'd', targetLinkUri: 'https://t/x', resourceLink: { id: 'r' }, roles: [] })
  t.same(Object.keys(claims).sort(), [
    LTI_CLAIM.deploymentId, LTI_CLAIM.messageType, LTI_CLAIM.resourceLink, LTI_CLAIM.roles, LTI_CLAIM.targetLinkUri, LTI_CLAIM.version
  ].sort())
  t.same(claims[LTI_CLAIM.roles], [])
  t.notOk('email' in claims)
})

t.test('round trip: what the platform builds, tool-auth accepts and reads back', async (t) => {
  const roleChoices = ['Instructor', 'Learner', 'TeachingAssistant', 'urn:lti:role:ims/lis/Mentor', ROLES.system.Administrator, 'Student', '']
  const typeChoices = ['CourseOffering', 'CourseSection', 'Group', 'Onboarding']
  let seed = 7
  const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  const pick = <T>(list: readonly T[]): T => list[random(list.length)] as T
  for (let i = 0; i < 200; i++) {
    const x: BuildLaunchInput = {
      deploymentId: `dep-${random(1000)}`,
      targetLinkUri: `https://tool${random(5)}.example.edu/launch`,
      resourceLink: random(2) === 0 ? { id: `rl-${i}` } : { id: `rl-${i}`, title: `Link ${i}` },
      roles: Array.from({ length: random(4) }, () => pick(roleChoices)),
      ...(random(2) === 0 ? {} : { context: { id: `ctx-${random(50)}`, label: random(2) === 0 ? '' : 'L', type: [pick(typeChoices)] } }),
      ...(random(2) === 0 ? {} : { custom: { image: pick(['scipy', 'r', '']), course_name: `c${i}` } }),
      ...(random(2) === 0 ? {} : { user: { email: `u${i}@example.edu` } })
    }
    const claims = buildLaunchClaims(x)
    const payload = { iss: 'https://p', aud: 'client', sub: `u${i}`, exp: 2, iat: 1, nonce: 'n', ...claims }
    const check = checkLaunchClaims(payload)
    if (!check.ok) t.fail(`input ${JSON.stringify(x)} gave ${JSON.stringify(check.problems)}`)
    if (!Value.Check(IdTokenSchema, payload)) t.fail(`input ${JSON.stringify(x)} does not match IdTokenSchema`)
    const summary = launchSummary(payload)
    if (summary.resourceLink?.id !== x.resourceLink.id || summary.deploymentId !== x.deploymentId) {
      t.fail(`summary of ${JSON.stringify(x)} lost ids`)
    }
  }
  t.pass('200 generated launches round-trip')
})

t.test('input that would give an invalid launch throws LaunchClaimsError with the problems', async (t) => {
  const error = t.throws(() => buildLaunchClaims({ ...input, deploymentId: '', resourceLink: { id: ' ' } })) as LaunchClaimsError
  t.ok(error instanceof LaunchClaimsError)
  t.equal(error.code, 'LTI_CLAIMS_INVALID')
  t.same(error.problems.map((problem) => problem.code).sort(), ['LTI_DEPLOYMENT_ID_MISSING', 'LTI_RESOURCE_LINK_ID_EMPTY'])
  t.match(error.message, /deployment id/)
  t.throws(() => buildLaunchClaims({ ...input, targetLinkUri: '' }), LaunchClaimsError)
  t.throws(() => buildLaunchClaims({ ...input, context: { id: '' } }), LaunchClaimsError)
})

t.test('buildLaunchClaims adds the AGS and NRPS claims the platform offers, and none without scopes', async (t) => {
  const claims = buildLaunchClaims({
    ...input,
    ags: { scope: [SERVICE_SCOPE.lineItem, SERVICE_SCOPE.score], lineItems: 'https://lms.example/lti/courses/c1/lineitems', lineItem: 'https://lms.example/lti/courses/c1/lineitems/li1' },
    nrps: { contextMembershipsUrl: 'https://lms.example/lti/courses/c1/memberships' }
  })
  t.same(claims[LTI_CLAIM.agsEndpoint], {
    scope: ['https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-ags/scope/score'],
    lineitems: 'https://lms.example/lti/courses/c1/lineitems',
    lineitem: 'https://lms.example/lti/courses/c1/lineitems/li1'
  })
  t.same(claims[LTI_CLAIM.nrps], { context_memberships_url: 'https://lms.example/lti/courses/c1/memberships', service_versions: ['2.0'] })
  const none = buildLaunchClaims({ ...input, ags: { scope: [] } })
  t.notOk(LTI_CLAIM.agsEndpoint in none, 'no scope granted: no AGS claim')
  t.notOk(LTI_CLAIM.nrps in none)
})
