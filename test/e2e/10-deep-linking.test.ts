/**
 * Scenario 6: Deep Linking through our whole stack and a real hub. grace
 * (staff of ds101) opens "Add a notebook link" on the platform's course page;
 * the platform sends an LtiDeepLinkingRequest to tool-auth (registered
 * statically, with its deep linking URL and JWKS); tool-auth's picker offers
 * the broker's policy images; grace picks PyTorch; the signed response comes
 * back to the platform, which verifies it and keeps the link. ada (a learner)
 * presses the link's Launch button and ends in JupyterLab, in a server the
 * broker started with pytorch-notebook.
 */
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { spawnerRecord, stepsOf } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, ourToolRegistration, planStack, signIn, startStack, USERS } from './stack.js'

const plan = await planStack('s10')
const hub = await startJupyterHub(t, {
  name: 's10-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
const stack = await startStack(t, plan, {
  hub,
  tools: [{ ...ourToolRegistration(plan), deep_linking_url: `${plan.toolAuthUrl}/lti13/launch` }]
})

t.test('staff deep-link a PyTorch notebook; a learner launches it and the broker starts pytorch-notebook', async (t) => {
  // grace, staff of ds101: the course page, "Add a notebook link", on to tool-auth's picker.
  const grace = new BrowserClient()
  await signIn(grace, plan.platformUrl, 'grace')
  const course = await grace.get(`${plan.platformUrl}/courses/ds101`)
  t.equal(course.status, 200)
  const add = course.forms().find((form) => form.action.endsWith('/courses/ds101/deep-link'))
  t.ok(add, 'staff see "Add a notebook link"')
  const toPicker = await grace.followLaunch(add?.action ?? '', { method: 'POST', form: add?.entries ?? [], initiator: course.url, maxSteps: 20 })
  const picker = toPicker.page
  t.equal(picker.status, 200, `the picker is shown\n${stepsOf(toPicker)}`)
  t.ok(picker.url.startsWith(`${plan.toolAuthUrl}/lti13/`), `the picker is tool-auth's (${picker.url})`)
  t.match(picker.body, IMAGES.pytorch, 'the broker\'s policy images are offered')
  const pickForm = picker.forms().find((form) => form.action.endsWith('/lti13/deep-link'))
  t.ok(pickForm, 'the picker has its form')
  t.same(pickForm?.entries.find(([name]) => name === 'course_name'), ['course_name', 'DS101'], 'the course label is prefilled')

  // Pick pytorch: the signed answer is auto-posted to the platform, which keeps the link.
  const fields: Array<[string, string]> = [
    ...(pickForm?.entries ?? []).filter(([name]) => name !== 'image' && name !== 'title'),
    ['image', 'pytorch'],
    ['title', 'Week 3: PyTorch']
  ]
  const answered = await grace.followLaunch(pickForm?.action ?? '', { method: 'POST', form: fields, initiator: picker.url, maxSteps: 10 })
  const landed = answered.page
  t.ok(answered.steps.some((step) => step.url === `${plan.platformUrl}/lti/deep-link-return` && step.via === 'auto-submit'), `the signed answer was posted to the platform\n${stepsOf(answered)}`)
  t.equal(landed.status, 200, `back on the course page: ${landed.url}\n${landed.body.slice(0, 300)}`)
  t.ok(landed.url.startsWith(`${plan.platformUrl}/courses/ds101?added=1`), `the platform accepted the link (${landed.url})`)
  t.match(landed.body, 'Week 3: PyTorch')

  // ada, a learner: the link's Launch button, all the way to JupyterLab.
  const ada = new BrowserClient()
  await signIn(ada, plan.platformUrl, 'ada')
  const learnerCourse = await ada.get(`${plan.platformUrl}/courses/ds101`)
  t.notMatch(learnerCourse.body, 'Add a notebook link', 'learners cannot add links')
  const launchForm = learnerCourse.forms().find((form) => /\/links\/[^/]+\/launch$/.test(form.action))
  t.ok(launchForm, 'the learner sees the link\'s Launch button')
  const launch = await ada.followLaunch(launchForm?.action ?? '', { method: 'POST', form: launchForm?.entries ?? [], initiator: learnerCourse.url, refresh: true, maxRefreshWaitMs: 1000, maxSteps: 120 })
  const username = USERS.ada.email
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  t.match(launch.page.body, /<title>JupyterLab<\/title>/, 'JupyterLab')
  const progress = launch.steps.find((step) => step.url.startsWith(`${plan.brokerUrl}/launches/`))
  const launchId = progress === undefined ? '' : new URL(progress.url).pathname.split('/')[2] ?? ''
  const record = await stack.brokerLaunch(launchId)
  t.match(record, { status: 'ready', username, role: 'learner', image: IMAGES.pytorch, course: { id: 'ds101' } }, 'the broker started pytorch-notebook for the learner')
  const model = await hub.api.user(username)
  t.same(model?.servers?.[record.serverName]?.user_options, { image: IMAGES.pytorch }, 'the hub server was started with the chosen image')
  t.match(spawnerRecord(hub, username, record.serverName), { requested_image: IMAGES.pytorch, image: IMAGES.pytorch })
})
