/**
 * Scenario 7: LTI Dynamic Registration between our own two sides, then a
 * launch, then Deep Linking through the tool registered by URL. tool-auth starts with no platform at all; its operator makes a
 * one-time registration link with the `registrations` command; the
 * platform's admin pastes it on "Register a tool by URL"; the browser opens
 * the tool's page (the frame's URL, with the platform's OpenID
 * configuration and a one-time registration token), confirms there, and the
 * tool registers itself at the platform and keeps the platform in Redis.
 * Then a learner launches the new tool, through the broker and an
 * unmodified hub, to JupyterLab; staff deep-link PyTorch through the same
 * registration, and the learner's launch of that link starts pytorch-notebook.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, planStack, servicesDir, signIn, startStack, USERS } from './stack.js'

const run = promisify(execFile)
const started = Date.now()
const plan = await planStack('s7')
const hub = await startJupyterHub(t, {
  name: 's7-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
// The platform has no tool in its file, and tool-auth no platform: everything comes by URL.
const stack = await startStack(t, plan, { hub, tools: [], registerByUrl: true })
t.comment(`hub and stack ready in ${Date.now() - started} ms`)

/** tool-auth's operator command, as the operator runs it (the built one, with the service's environment). */
async function registrations (...argv: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, [path.join(servicesDir, 'tool-auth', 'dist', 'cli', 'registrations.js'), ...argv], {
    env: stack.toolAuthEnv,
    timeout: 20_000
  })
  return stdout.split('\n').filter((line) => line !== '')
}

let clientId = ''
let learner = ''

t.test('the admin registers tool-auth by pasting its one-time link', async (t) => {
  const [link] = await registrations('link')
  t.match(link, new RegExp(`^${plan.toolAuthUrl}/lti13/register\\?link=`), 'the operator has a link')

  const admin = new BrowserClient()
  await signIn(admin, plan.platformUrl, 'alan')
  const tools = await admin.get(`${plan.platformUrl}/admin/tools`)
  t.equal(tools.status, 200)
  const opening = await admin.submitForm(tools, { formIndex: 0, fields: { url: link as string } })
  t.equal(opening.status, 200, opening.body.slice(0, 300))
  const frame = /<iframe id="registration" src="([^"]+)"/.exec(opening.body)?.[1]?.replaceAll('&amp;', '&')
  t.ok(frame, 'the tool is opened in a frame')
  const frameUrl = new URL(frame as string)
  t.equal(frameUrl.searchParams.get('openid_configuration'), `${plan.platformUrl}/.well-known/openid-configuration`)
  t.ok(frameUrl.searchParams.get('registration_token'), 'with a registration token')

  // The frame: tool-auth reads the platform's configuration and shows what it will register.
  const review = await admin.get(frameUrl.toString(), { initiator: opening.url })
  t.equal(review.status, 200, review.body.slice(0, 500))
  t.match(review.body, plan.platformUrl, 'the operator sees the platform\'s issuer')
  const done = await admin.submitForm(review)
  t.equal(done.status, 200, done.body.slice(0, 500))
  t.match(done.body, "postMessage({ subject: 'org.imsglobal.lti.close' }, '*')", 'the tool tells the platform it is done')
  clientId = /client id <code>([^<]+)<\/code>/.exec(done.body)?.[1] ?? ''
  t.match(clientId, /^[0-9a-f-]{36}$/, 'the platform assigned a client id')

  const listed = await admin.get(`${plan.platformUrl}/admin/tools`)
  t.match(listed.body, clientId, 'the platform lists the tool')
  t.match(listed.body, 'by URL')
  const [record] = await registrations('list')
  t.match(JSON.parse(record as string), {
    issuer: plan.platformUrl,
    client_ids: [clientId],
    authorize_url: `${plan.platformUrl}/lti/authorize`,
    jwks_endpoint: `${plan.platformUrl}/.well-known/jwks.json`,
    token_endpoint: `${plan.platformUrl}/lti/token`,
    authorized_by: 'link'
  }, 'tool-auth keeps the platform, with its endpoints')

  // The link was for one use.
  const again = await admin.get(frameUrl.toString())
  t.equal(again.status, 403)
  t.match(again.body, 'TOOL_AUTH_REGISTRATION_LINK_INVALID')
})

t.test('a learner launches the registered tool, into JupyterLab', async (t) => {
  if (clientId === '') t.bailout('the registration failed')
  const launch = await launchThroughStack(stack, 'ada', { course: 'ds101' })
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  t.match(launch.page.body, /<title>JupyterLab<\/title>/, 'the JupyterLab page is served')
  const login = launch.steps.find((step) => step.url.startsWith(`${plan.toolAuthUrl}/lti13/oauth_login`))
  t.equal(new URL(login?.url ?? plan.toolAuthUrl).searchParams.get('client_id'), clientId, 'launched with the assigned client id')
  const record = await stack.brokerLaunch(launch.launchId ?? '')
  // A platform registered by URL gets its own namespace by default: its issuer's host (operator guide, "One person, one account").
  t.match(record, { status: 'ready', role: 'learner', image: IMAGES.minimal, course: { id: 'ds101' } })
  t.equal(record.username, `${new URL(plan.platformUrl).host.replace(':', '-')}-${USERS.ada.email}`, 'the username carries the platform\'s namespace')
  learner = record.username
})

t.test('staff deep-link PyTorch through the tool registered by URL; a learner launches it and gets pytorch-notebook', async (t) => {
  if (learner === '') t.bailout('the launch failed')
  const grace = new BrowserClient()
  await signIn(grace, plan.platformUrl, 'grace')
  const course = await grace.get(`${plan.platformUrl}/courses/ds101`)
  const add = course.forms().find((form) => form.action.endsWith('/courses/ds101/deep-link'))
  t.ok(add, 'the registration by URL made the tool a deep linking tool: "Add a notebook link"')
  const toPicker = await grace.followLaunch(add?.action ?? '', { method: 'POST', form: add?.entries ?? [], initiator: course.url, maxSteps: 20 })
  const pickForm = toPicker.page.forms().find((form) => form.action.endsWith('/lti13/deep-link'))
  t.ok(pickForm, `tool-auth's picker is shown\n${stepsOf(toPicker)}`)
  const fields: Array<[string, string]> = [
    ...(pickForm?.entries ?? []).filter(([name]) => name !== 'image' && name !== 'title'),
    ['image', 'pytorch'],
    ['title', 'Week 3: PyTorch']
  ]
  const answered = await grace.followLaunch(pickForm?.action ?? '', { method: 'POST', form: fields, initiator: toPicker.page.url, maxSteps: 10 })
  t.ok(answered.page.url.startsWith(`${plan.platformUrl}/courses/ds101?added=1`), `the platform kept the link\n${stepsOf(answered)}`)

  const ada = new BrowserClient()
  await signIn(ada, plan.platformUrl, 'ada')
  const learnerCourse = await ada.get(`${plan.platformUrl}/courses/ds101`)
  const launchForm = learnerCourse.forms().find((form) => /\/links\/[^/]+\/launch$/.test(form.action))
  t.ok(launchForm, 'the learner sees the link')
  const launch = await ada.followLaunch(launchForm?.action ?? '', { method: 'POST', form: launchForm?.entries ?? [], initiator: learnerCourse.url, refresh: true, maxRefreshWaitMs: 1000, maxSteps: 120 })
  t.match(launch.page.body, /<title>JupyterLab<\/title>/, `JupyterLab\n${stepsOf(launch)}`)
  const progress = launch.steps.find((step) => step.url.startsWith(`${plan.brokerUrl}/launches/`))
  const record = await stack.brokerLaunch(progress === undefined ? '' : new URL(progress.url).pathname.split('/')[2] ?? '')
  t.match(record, { status: 'ready', username: learner, role: 'learner', image: IMAGES.pytorch }, 'the broker started pytorch-notebook for the same learner')
  t.comment(`scenario 7: ${Date.now() - started} ms`)
})
