/**
 * Scenario 3: an independent tool. Our platform launches an ltijs tool
 * (ltijs 5 from npm on PostgreSQL, written by others): ltijs accepts our
 * id_token and its onConnect handler sees our user, roles, context and
 * custom claims (image, course_name, and a registration's own custom value
 * with its variable substituted).
 */
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { freePort } from '../harness/processes.js'
import { startLtijsTool } from '../peers/ltijs-tool.js'
import { stepsOf } from './launch.js'
import { IMAGES, launchFormFields, planStack, signIn, startStack, USERS, type DemoUser, type ToolRegistration } from './stack.js'

const LTIJS_CLIENT = 'ltijs-e2e-tool'
const started = Date.now()
const plan = await planStack('s3')
const platform = plan.platformUrl

// ltijs first (it registers our platform at start), then the platform with ltijs registered.
const tool = await startLtijsTool(t, {
  name: 's3-ltijs',
  port: await freePort(),
  platform: {
    url: platform,
    name: 'ltilaunch e2e platform',
    clientId: LTIJS_CLIENT,
    authenticationEndpoint: `${platform}/lti/authorize`,
    accesstokenEndpoint: `${platform}/token`, // unused: launches only
    authConfig: { method: 'JWK_SET', key: `${platform}/.well-known/jwks.json` }
  }
})
const registration: ToolRegistration = {
  client_id: LTIJS_CLIENT,
  name: 'An ltijs tool',
  deployment_ids: ['1'],
  initiate_login_uri: tool.loginUrl,
  target_link_uri: tool.launchUrl,
  // ltijs posts back to its target_link_uri without the query.
  redirect_uris: [tool.launchUrl],
  jwks_uri: tool.keysetUrl,
  custom: { user_username: '$User.username', context_label: '$Context.label' },
  images: Object.values(IMAGES),
  send_name: true,
  send_email: true
}
await startStack(t, plan, { ourTool: false, tools: [registration] })
t.comment(`ltijs and platform ready in ${Date.now() - started} ms`)

const cases: Array<{ user: DemoUser, course: string, title: string, image: string, role: string, name: string }> = [
  { user: 'ada', course: 'ds101', title: 'Data Science 101', image: IMAGES.minimal, role: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner', name: 'Ada Lovelace' },
  { user: 'grace', course: 'ml201', title: 'Machine Learning 201', image: IMAGES.scipy, role: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner', name: 'Grace Hopper' },
  { user: 'grace', course: 'ds101', title: 'Data Science 101', image: IMAGES.pytorch, role: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor', name: 'Grace Hopper' }
]

for (const c of cases) {
  t.test(`${c.user} launches the ltijs tool in ${c.course} with ${c.image}`, async (t) => {
    const client = new BrowserClient()
    const home = await signIn(client, platform, c.user)
    const before = (await tool.launches()).length
    const launch = await client.followLaunch(`${platform}/launch`, {
      method: 'POST',
      form: launchFormFields(home, { client_id: LTIJS_CLIENT, course: c.course, image: c.image }),
      initiator: home.url,
      maxSteps: 20
    })
    t.equal(launch.page.status, 200, `the launch ends on the tool\n${stepsOf(launch)}`)
    t.match(launch.page.body, /ltijs accepted the launch/, 'ltijs accepted the id_token')
    const loginHint = new URL(launch.steps.find((step) => step.url.startsWith(tool.loginUrl))?.url ?? tool.loginUrl).searchParams.get('login_hint')

    const seen = await tool.waitForLaunch((l) => (l.context.custom as Record<string, string> | undefined)?.image === c.image)
    t.equal((await tool.launches()).length, before + 1, 'one launch recorded')
    t.match(seen.token, {
      iss: platform,
      clientId: LTIJS_CLIENT,
      deploymentId: '1',
      user: loginHint,
      userInfo: { name: c.name, email: USERS[c.user].email }
    }, 'our user: sub (= login_hint), name and email')
    t.ok((seen.context.roles as string[]).includes(c.role), `the roles hold ${c.role}`)
    t.match(seen.context.context, { id: c.course, title: c.title }, 'our context')
    t.match(seen.context.resource, { id: `${c.course}:${LTIJS_CLIENT}`, title: registration.name }, 'our resource link')
    t.same(seen.context.custom, {
      image: c.image,
      course_name: c.title,
      user_username: c.user,
      context_label: c.course.toUpperCase()
    }, 'the custom claims: image, course_name, and the registration\'s variables substituted')
    t.equal(seen.context.messageType, 'LtiResourceLinkRequest')
    t.equal(seen.context.version, '1.3.0')
  })
}

t.test('ltijs refused nothing', async (t) => {
  t.same(await tool.refusals(), [], 'no refusal recorded')
  t.comment(`scenario 3: ${Date.now() - started} ms`)
})
