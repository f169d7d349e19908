/**
 * Scenario 2: the seed's own setup. Our platform launches straight into a
 * JupyterHub whose authenticator is jupyterhub-ltiauthenticator's
 * LTI13Authenticator, configured with exactly the values that
 * services/platform/README.md documents (issuer, client_id, authorize_url,
 * jwks_endpoint, username_key), and registered at the platform as its
 * worked example registers it. No tool-auth, no broker: the hub is the tool.
 */
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { stepsOf } from './launch.js'
import { cryptKey, IMAGES, launchFormFields, LTI, planStack, signIn, startStack, USERS, type DemoUser, type ToolRegistration } from './stack.js'

const HUB_CLIENT = 'jupyterhub-lti13'
const started = Date.now()
const plan = await planStack('s2')
const platform = plan.platformUrl

// The worked example's registration (tools.yaml in the README), with this run's URLs.
const registration: ToolRegistration = {
  client_id: HUB_CLIENT,
  name: 'JupyterHub',
  deployment_ids: ['1'],
  initiate_login_uri: `${plan.hubUrl}/hub/lti13/oauth_login`,
  target_link_uri: `${plan.hubUrl}/hub/`,
  redirect_uris: [`${plan.hubUrl}/hub/lti13/oauth_callback`],
  send_name: true,
  send_email: true,
  images: Object.values(IMAGES)
}

// The README's jupyterhub_config.py, values from this platform; auth_state kept to look at it.
const hub = await startJupyterHub(t, {
  name: 's2-hub',
  port: plan.hubPort,
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() },
  config: `
c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
c.LTI13Authenticator.issuer = ${JSON.stringify(platform)}
c.LTI13Authenticator.client_id = [${JSON.stringify(HUB_CLIENT)}]
c.LTI13Authenticator.authorize_url = ${JSON.stringify(`${platform}/lti/authorize`)}
c.LTI13Authenticator.jwks_endpoint = ${JSON.stringify(`${platform}/.well-known/jwks.json`)}
c.LTI13Authenticator.username_key = "email"
c.Authenticator.allow_all = True
c.Authenticator.enable_auth_state = True
# Land on the hub's home page: this scenario is about the login, not a spawn.
c.JupyterHub.default_url = '/hub/home'
`
})
await startStack(t, plan, { ourTool: false, tools: [registration] })
t.comment(`hub and platform ready in ${Date.now() - started} ms`)

const cases: Array<{ user: DemoUser, course: string, image: string, role: string }> = [
  { user: 'ada', course: 'ds101', image: IMAGES.scipy, role: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner' },
  { user: 'grace', course: 'ds101', image: IMAGES.pytorch, role: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor' }
]

for (const c of cases) {
  t.test(`${c.user} launches into the LTI13Authenticator hub with ${c.image}`, async (t) => {
    const client = new BrowserClient()
    const home = await signIn(client, platform, c.user)
    const launch = await client.followLaunch(`${platform}/launch`, {
      method: 'POST',
      form: launchFormFields(home, { client_id: HUB_CLIENT, course: c.course, image: c.image }),
      initiator: home.url,
      maxSteps: 20
    })
    const username = USERS[c.user].email
    t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
    t.equal(launch.page.url, `${hub.url}/hub/home`, 'on the hub\'s home page')
    t.match(launch.page.body, username, 'signed in as the user (email, username_key = "email")')
    t.same(launch.steps.map((step) => `${step.via} ${step.method} ${new URL(step.url).origin === hub.url ? 'hub' : 'platform'}${new URL(step.url).pathname} ${step.status}`).slice(0, 4), [
      'navigate POST platform/launch 303',
      'redirect GET hub/hub/lti13/oauth_login 302',
      'redirect GET platform/lti/authorize 200',
      'auto-submit POST hub/hub/lti13/oauth_callback 302'
    ], 'platform → hub login initiation → platform authorization → hub callback')

    // The hub's view: the user, and the id_token's claims in auth_state.
    const model = await hub.api.user(username)
    t.ok(model, `the hub user ${username} exists`)
    const authState = model?.auth_state ?? {}
    t.equal(authState.iss, platform)
    t.equal(authState.aud, HUB_CLIENT)
    t.equal(authState.email, username)
    t.match(authState[`${LTI}custom`], { image: c.image, course_name: 'Data Science 101' }, 'the custom claim image (and course_name) is in auth_state')
    t.ok((authState[`${LTI}roles`] as string[] | undefined)?.includes(c.role), `the LTI roles hold ${c.role}`)
    t.match(authState[`${LTI}context`], { id: c.course, label: 'DS101' })
    t.equal(authState[`${LTI}message_type`], 'LtiResourceLinkRequest')
    t.equal(authState[`${LTI}target_link_uri`], registration.target_link_uri)
  })
}

t.test('timing', async (t) => {
  t.same((await hub.api.users()).map((u) => u.name).sort(), cases.map((c) => USERS[c.user].email).sort(), 'one hub user per launch, nothing else')
  t.comment(`scenario 2: ${Date.now() - started} ms`)
})
