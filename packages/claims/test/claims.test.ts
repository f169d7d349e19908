import t from 'tap'
import { CONTEXT_TYPE, LTI_CLAIM, LTI_VERSION, MESSAGE_TYPE, normalizeContextType, normalizeContextTypes } from '../src/index.js'

t.test('claim URIs are the ones of the LTI 1.3, Deep Linking, AGS and NRPS specs', async (t) => {
  t.equal(LTI_CLAIM.messageType, 'https://purl.imsglobal.org/spec/lti/claim/message_type')
  t.equal(LTI_CLAIM.version, 'https://purl.imsglobal.org/spec/lti/claim/version')
  t.equal(LTI_CLAIM.deploymentId, 'https://purl.imsglobal.org/spec/lti/claim/deployment_id')
  t.equal(LTI_CLAIM.targetLinkUri, 'https://purl.imsglobal.org/spec/lti/claim/target_link_uri')
  t.equal(LTI_CLAIM.resourceLink, 'https://purl.imsglobal.org/spec/lti/claim/resource_link')
  t.equal(LTI_CLAIM.roles, 'https://purl.imsglobal.org/spec/lti/claim/roles')
  t.equal(LTI_CLAIM.context, 'https://purl.imsglobal.org/spec/lti/claim/context')
  t.equal(LTI_CLAIM.toolPlatform, 'https://purl.imsglobal.org/spec/lti/claim/tool_platform')
  t.equal(LTI_CLAIM.launchPresentation, 'https://purl.imsglobal.org/spec/lti/claim/launch_presentation')
  t.equal(LTI_CLAIM.custom, 'https://purl.imsglobal.org/spec/lti/claim/custom')
  t.equal(LTI_CLAIM.lis, 'https://purl.imsglobal.org/spec/lti/claim/lis')
  t.equal(LTI_CLAIM.roleScopeMentor, 'https://purl.imsglobal.org/spec/lti/claim/role_scope_mentor')
  t.equal(LTI_CLAIM.forUser, 'https://purl.imsglobal.org/spec/lti/claim/for_user')
  t.equal(LTI_CLAIM.deepLinkingSettings, 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings')
  t.equal(LTI_CLAIM.deepLinkingContentItems, 'https://purl.imsglobal.org/spec/lti-dl/claim/content_items')
  t.equal(LTI_CLAIM.deepLinkingData, 'https://purl.imsglobal.org/spec/lti-dl/claim/data')
  t.equal(LTI_CLAIM.deepLinkingMsg, 'https://purl.imsglobal.org/spec/lti-dl/claim/msg')
  t.equal(LTI_CLAIM.deepLinkingLog, 'https://purl.imsglobal.org/spec/lti-dl/claim/log')
  t.equal(LTI_CLAIM.deepLinkingErrorMsg, 'https://purl.imsglobal.org/spec/lti-dl/claim/errormsg')
  t.equal(LTI_CLAIM.deepLinkingErrorLog, 'https://purl.imsglobal.org/spec/lti-dl/claim/errorlog')
  t.equal(LTI_CLAIM.agsEndpoint, 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint')
  t.equal(LTI_CLAIM.nrps, 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice')
  t.equal(new Set(Object.values(LTI_CLAIM)).size, Object.keys(LTI_CLAIM).length, 'no two names share a URI')
})

t.test('message types and version', async (t) => {
  t.same(MESSAGE_TYPE, {
    resourceLink: 'LtiResourceLinkRequest',
    deepLinking: 'LtiDeepLinkingRequest',
    deepLinkingResponse: 'LtiDeepLinkingResponse'
  })
  t.equal(LTI_VERSION, '1.3.0')
})

t.test('normalizeContextType turns short forms and LTI 1.1 URNs into full URIs', async (t) => {
  const table: Array<[string, string | undefined]> = [
    ['CourseSection', CONTEXT_TYPE.CourseSection],
    ['CourseOffering', 'http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering'],
    ['CourseTemplate', CONTEXT_TYPE.CourseTemplate],
    ['Group', CONTEXT_TYPE.Group],
    ['  coursesection ', CONTEXT_TYPE.CourseSection],
    ['urn:lti:context-type:ims/lis/CourseSection', CONTEXT_TYPE.CourseSection],
    ['http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering', CONTEXT_TYPE.CourseOffering],
    ['http://purl.imsglobal.org/vocab/lis/v2/course#Whatever', 'http://purl.imsglobal.org/vocab/lis/v2/course#Whatever'],
    ['Onboarding', 'Onboarding'],
    ['', undefined],
    ['   ', undefined]
  ]
  for (const [input, expected] of table) t.equal(normalizeContextType(input), expected, JSON.stringify(input))
  t.equal(normalizeContextType(42 as unknown as string), undefined, 'a non-string is no type')
})

t.test('normalizeContextTypes accepts a string or an array with junk, and dedupes', async (t) => {
  t.same(normalizeContextTypes('CourseSection'), [CONTEXT_TYPE.CourseSection])
  t.same(normalizeContextTypes(['CourseSection', CONTEXT_TYPE.CourseSection, 3, null, '', 'Group']), [CONTEXT_TYPE.CourseSection, CONTEXT_TYPE.Group])
  t.same(normalizeContextTypes(undefined), [])
  t.same(normalizeContextTypes({ type: 'Group' }), [])
})
