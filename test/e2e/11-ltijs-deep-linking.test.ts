/**
 * Scenario 7: an independent tool answers our platform's deep linking
 * request. ltijs 5 (written by others) is registered at our platform with a
 * deep_linking_url; grace (staff of ds101) presses "Add a notebook link",
 * ltijs receives the LtiDeepLinkingRequest through its own OIDC login and
 * answers with a content item signed by its DeepLinking service; the
 * platform verifies it against ltijs's keyset and keeps the link. ada (a
 * learner) launches that link: ltijs sees the link's URL, resource link id
 * and custom parameters.
 */
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { freePort } from '../harness/processes.js'
import { startLtijsTool } from '../peers/ltijs-tool.js'
import { stepsOf } from './launch.js'
import { IMAGES, planStack, signIn, startStack, type ToolRegistration } from './stack.js'

const LTIJS_CLIENT = 'ltijs-e2e-deep-linking'
const plan = await planStack('s11')
const platform = plan.platformUrl
const port = await freePort()
const itemUrl = `http://127.0.0.1:${port}/launch?resource=scipy-lab`

const tool = await startLtijsTool(t, {
  name: 's11-ltijs',
  port,
  platform: {
    url: platform,
    name: 'ltilaunch e2e platform',
    clientId: LTIJS_CLIENT,
    authenticationEndpoint: `${platform}/lti/authorize`,
    accesstokenEndpoint: `${platform}/token`, // unused
    authConfig: { method: 'JWK_SET', key: `${platform}/.well-known/jwks.json` }
  },
  deepLinkingItem: { type: 'ltiResourceLink', title: 'SciPy lab (from ltijs)', text: 'chosen in ltijs', url: itemUrl, custom: { image: IMAGES.scipy, course_name: 'DS101' } }
})
const registration: ToolRegistration = {
  client_id: LTIJS_CLIENT,
  name: 'An ltijs tool',
  deployment_ids: ['1'],
  initiate_login_uri: tool.loginUrl,
  target_link_uri: tool.launchUrl,
  redirect_uris: [tool.launchUrl],
  jwks_uri: tool.keysetUrl,
  deep_linking_url: tool.launchUrl,
  send_name: true,
  send_email: true
}
await startStack(t, plan, { ourTool: false, tools: [registration] })

t.test('ltijs answers a deep linking request from our platform; the link it made is launched by a learner', async (t) => {
  const grace = new BrowserClient()
  await signIn(grace, platform, 'grace')
  const course = await grace.get(`${platform}/courses/ds101`)
  const add = course.forms().find((form) => form.action.endsWith('/courses/ds101/deep-link'))
  t.ok(add, 'staff see "Add a notebook link"')
  const added = await grace.followLaunch(add?.action ?? '', { method: 'POST', form: add?.entries ?? [], initiator: course.url, maxSteps: 20 })
  t.equal(added.page.status, 200, `the round trip ends on a page\n${stepsOf(added)}`)
  t.ok(added.page.url.startsWith(`${platform}/courses/ds101?added=1`), `the platform accepted ltijs's answer (${added.page.url})\n${stepsOf(added)}`)
  t.ok(added.steps.some((step) => step.url === `${platform}/lti/deep-link-return` && step.via === 'auto-submit'), 'ltijs\'s own form posted the answer')
  t.match(added.page.body, 'SciPy lab (from ltijs)')

  const request = (await tool.launches()).find((entry) => entry.kind === 'deep-linking')
  t.ok(request, 'ltijs recorded the deep linking request')
  t.equal(request?.context.messageType, 'LtiDeepLinkingRequest')
  t.match(request?.context.deepLinkingSettings, { deep_link_return_url: `${platform}/lti/deep-link-return`, accept_types: ['ltiResourceLink'] })
  t.match(request?.context.context, { id: 'ds101' })

  const ada = new BrowserClient()
  await signIn(ada, platform, 'ada')
  const learnerCourse = await ada.get(`${platform}/courses/ds101`)
  const launchForm = learnerCourse.forms().find((form) => /\/links\/[^/]+\/launch$/.test(form.action))
  t.ok(launchForm, 'the learner sees the link')
  const linkId = launchForm?.action.split('/')[6] ?? ''
  const launch = await ada.followLaunch(launchForm?.action ?? '', { method: 'POST', form: launchForm?.entries ?? [], initiator: learnerCourse.url, maxSteps: 20 })
  t.equal(launch.page.status, 200, `the launch ends on ltijs\n${stepsOf(launch)}`)
  t.match(launch.page.body, /ltijs accepted the launch/)
  const seen = await tool.waitForLaunch((l) => l.kind === 'launch')
  t.equal(seen.context.messageType, 'LtiResourceLinkRequest')
  t.match(seen.context.custom, { image: IMAGES.scipy, course_name: 'DS101' }, 'the link\'s custom parameters')
  t.match(seen.context.resource, { id: linkId, title: 'SciPy lab (from ltijs)' }, 'the link is the resource')
  t.equal(seen.context.targetLinkUri, itemUrl, 'the link\'s own URL is the target')
  t.ok((seen.context.roles as string[]).includes('http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'))
  t.same(await tool.refusals(), [], 'ltijs refused nothing')
})
