import t from 'tap'
import { CONTEXT_TYPE, HUB_VISIBLE_CLAIMS, hubClaims, launchSummary, LTI_CLAIM, ROLES } from '../src/index.js'
import { canvasInstructor, deepLinkingRequest, lti11UrnRoles, moodleStudent, privacyModeLearner } from './fixtures/index.js'

t.test('a Canvas launch, summarized', async (t) => {
  t.same(launchSummary(canvasInstructor.payload), {
    messageType: 'LtiResourceLinkRequest',
    version: '1.3.0',
    deploymentId: '189:7f956bcc8f67cd076ae464862ce83596a1bb3293',
    targetLinkUri: 'https://tool.example.edu/lti13/launch',
    resourceLink: { id: '7f956bcc8f67cd076ae464862ce83596a1bb3293' },
    context: {
      id: '4dde05e8ca1973bcca9bffc13e1548820eee93a3',
      label: 'DS101',
      title: 'Data Science 101',
      type: [CONTEXT_TYPE.CourseOffering]
    },
    roles: [ROLES.institution.Instructor, ROLES.membership.Instructor, ROLES.system.User],
    custom: {
      image: 'quay.io/jupyter/scipy-notebook:2024-05-27',
      course_name: 'DS101',
      canvas_course_id: '1234',
      canvas_user_id: '5678',
      canvas_user_login_id: 'ada'
    },
    platform: {
      guid: 'Vbmh4OVuGMYhmfgbnRUgGkQn0RRO7eDwbVjSXLJx:canvas-lms',
      name: 'Example University',
      version: 'cloud',
      productFamilyCode: 'canvas'
    },
    user: {
      sub: '535fa085-f22b-4655-a48c-d5a36a9215f6',
      name: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      email: 'ada@example.edu',
      locale: 'en'
    }
  }, 'null titles are dropped, numbers are strings')
})

t.test('numbers become strings and short forms are normalized', async (t) => {
  const summary = launchSummary(lti11UrnRoles.payload)
  t.equal(summary.deploymentId, '7')
  t.same(summary.resourceLink, { id: '4711' })
  t.same(summary.context, { id: '90210', label: 'CS50', type: [CONTEXT_TYPE.CourseSection] })
  t.same(summary.roles, [ROLES.subRoles.Instructor.TeachingAssistant, ROLES.institution.Student, ROLES.system.User])
  t.same(launchSummary(moodleStudent.payload).context?.type, [CONTEXT_TYPE.CourseSection], 'Moodle\'s bare CourseSection')
})

t.test('what is absent stays absent', async (t) => {
  const privacy = launchSummary(privacyModeLearner.payload)
  t.same(privacy.user, { sub: '8e1f2d3c-4b5a-4697-8877-665544332211' }, 'privacy mode: no name or email')
  t.notOk('platform' in privacy)
  t.same(privacy.context, { id: '4dde05e8ca1973bcca9bffc13e1548820eee93a3', label: '', title: 'Data Science 101', type: [] })

  const deepLink = launchSummary(deepLinkingRequest.payload)
  t.equal(deepLink.messageType, 'LtiDeepLinkingRequest')
  t.notOk('resourceLink' in deepLink)

  const empty = launchSummary({})
  t.same(empty, { messageType: '', version: '', deploymentId: '', targetLinkUri: '', roles: [], custom: {}, user: {} })
  t.notOk('context' in launchSummary({ [LTI_CLAIM.context]: { label: 'no id' } }), 'a context without id is left out')
})

t.test('hubClaims keeps only what the hub may see', async (t) => {
  const claims = hubClaims(canvasInstructor.payload)
  t.same(Object.keys(claims).sort(), [...HUB_VISIBLE_CLAIMS].sort())
  t.equal(claims[LTI_CLAIM.context], canvasInstructor.payload[LTI_CLAIM.context], 'as sent')
  t.notOk('email' in claims, 'no profile')
  t.notOk(LTI_CLAIM.nrps in claims, 'no service endpoints')
  t.same(Object.keys(hubClaims(deepLinkingRequest.payload)).sort(), [LTI_CLAIM.context, LTI_CLAIM.messageType, LTI_CLAIM.roles].sort(), 'absent claims stay absent')
})
