/**
 * Scenario 1: our whole stack with an unmodified hub. platform → tool-auth →
 * spawner-broker (jupyterhub driver, named servers) → JupyterHub with
 * oauthenticator's GenericOAuthenticator (settings only, as tool-auth's
 * README gives them) and the RecordingSpawner (DockerSpawner's
 * allowed_images = the dev images). A staff member, a learner and an
 * administrator launch in turn, from the platform's sign-in to their
 * JupyterLab page, in a browser without scripts.
 */
import t from 'tap'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { launchThroughStack, serverEnvironment, spawnerRecord, stepsOf } from './launch.js'
import { CLIENT_ID, cryptKey, genericOAuthHubConfig, IMAGES, planStack, startStack, USERS, type DemoUser } from './stack.js'

const started = Date.now()
const plan = await planStack('s1')
const hub = await startJupyterHub(t, {
  name: 's1-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
// The hub admin flag comes only from roles an operator lists: alan is admin
// because this deployment names system Administrator as an admin role.
const stack = await startStack(t, plan, { hub, env: { toolAuth: { ADMIN_ROLES: 'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator' } } })
t.comment(`hub and stack ready in ${Date.now() - started} ms (hub ${hub.proc.startMs} ms)`)

interface Case {
  user: DemoUser
  course: string
  image: string
  role: 'staff' | 'learner'
  admin: boolean
  /** A role URI the LTI roles claim must hold. */
  ltiRole: string
}

const cases: Case[] = [
  { user: 'grace', course: 'ds101', image: IMAGES.pytorch, role: 'staff', admin: false, ltiRole: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor' },
  { user: 'ada', course: 'ds101', image: IMAGES.scipy, role: 'learner', admin: false, ltiRole: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner' },
  { user: 'alan', course: 'ml201', image: IMAGES.minimal, role: 'staff', admin: true, ltiRole: 'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator' }
]

for (const c of cases) {
  t.test(`${c.user} (${c.role}${c.admin ? ', admin' : ''}) launches ${c.course} with ${c.image}`, async (t) => {
    const launchStarted = Date.now()
    const username = USERS[c.user].email // username_key = email, lowercased
    const launch = await launchThroughStack(stack, c.user, { course: c.course, image: c.image })
    t.comment(`launch took ${Date.now() - launchStarted} ms in ${launch.steps.length} requests`)
    const page = launch.page
    // The broker sends the browser to /hub/login?next=/hub/user/<name>/<server>/ and the hub on to the server.
    t.equal(page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
    t.match(page.url, new RegExp(`^${hub.url}/user/${username.replace('.', '\\.')}/[a-z0-9-]+/lab`), 'in the user\'s named server, JupyterLab')
    t.match(page.body, /<title>JupyterLab<\/title>/, 'the JupyterLab page is served')
    // The path it took: platform → tool-auth → platform → tool-auth → broker → hub → tool-auth → hub → server.
    const origins = [...new Set(launch.steps.map((step) => new URL(step.url).origin))]
    t.same(origins, [plan.platformUrl, plan.toolAuthUrl, plan.brokerUrl, hub.url], 'through every service, in order')
    t.ok(launch.steps.some((step) => step.url.startsWith(`${plan.toolAuthUrl}/oauth2/authorize`)), 'the hub signed in through tool-auth\'s OAuth2 server')

    // The broker's record of the launch.
    t.ok(launch.launchId, 'the browser passed the broker\'s progress page')
    const record = await stack.brokerLaunch(launch.launchId ?? '')
    t.match(record, { status: 'ready', username, role: c.role, image: c.image, course: { id: c.course } })
    const server = record.serverName
    t.match(server, /^[a-z0-9-]+$/, `a named server for the course (${server})`)
    t.ok(decodeURIComponent(page.url).startsWith(`${hub.url}/user/${username}/${server}/`), 'the page is that server\'s')

    // The hub: the user, their groups and admin flag, the running server with the image.
    const model = await hub.api.user(username)
    t.ok(model, `the hub user ${username} exists`)
    t.same([...(model?.groups ?? [])].sort(), [...(c.admin ? ['admin'] : []), `course:${c.course}`, c.role].sort(), 'groups from userinfo (manage_groups)')
    t.equal(model?.admin, c.admin, `admin flag ${c.admin}`)
    t.equal(model?.servers?.[server]?.ready, true, 'the named server runs')
    // The server's own URL, as the hub names it, in the same browser: the hub's login holds.
    const serverUrl = `${hub.url}${model?.servers?.[server]?.url ?? ''}`
    t.equal(record.serverUrl, serverUrl, 'the broker\'s serverUrl is the hub\'s')
    const direct = await launch.client.followLaunch(serverUrl, { maxSteps: 10 })
    t.equal(direct.page.status, 200, `${serverUrl} is served to this browser\n${stepsOf(direct)}`)
    t.match(direct.page.body, /<title>JupyterLab<\/title>/, 'JupyterLab, at the hub\'s server URL')
    t.same(model?.servers?.[server]?.user_options, { image: c.image }, 'the broker started it with user_options {image}')
    const spawned = spawnerRecord(hub, username, server)
    t.match(spawned, { user: username, server, requested_image: c.image, image: c.image }, 'the spawner got the chosen image')
    t.equal(serverEnvironment(model, server).JUPYTER_IMAGE, c.image, 'JUPYTER_IMAGE in the server\'s environment')

    // auth_state: what tool-auth's userinfo said, with the LTI claims.
    const authState = model?.auth_state as { oauth_user?: Record<string, unknown>, access_token?: string } | undefined
    t.ok(authState?.access_token, 'auth_state holds the access token')
    const oauthUser = authState?.oauth_user as { name?: string, groups?: string[], admin?: boolean, lti?: Record<string, unknown> } | undefined
    t.equal(oauthUser?.name, username)
    t.equal(oauthUser?.admin, c.admin)
    const lti = oauthUser?.lti as { roles?: string[], custom?: Record<string, string> } & Record<string, unknown> | undefined
    t.match(lti, {
      issuer: plan.platformUrl,
      client_id: CLIENT_ID,
      deployment_id: '1',
      message_type: 'LtiResourceLinkRequest',
      role: c.role,
      context: { id: c.course },
      resource_link: { id: `${c.course}:${CLIENT_ID}` },
      launch_id: launch.launchId,
      image: c.image
    }, 'auth_state.oauth_user.lti holds the launch')
    t.ok(lti?.roles?.includes(c.ltiRole), `the LTI roles include ${c.ltiRole}`)
    t.match(lti?.custom, { image: c.image, course_name: /.+/ }, 'and the custom claim (image, course_name)')
  })
}

t.test('nothing else was started', async (t) => {
  const users = await hub.api.users()
  t.same(users.map((u) => u.name).sort(), cases.map((c) => USERS[c.user].email).sort(), 'one hub user per launch')
  for (const user of users) {
    t.equal(Object.values(user.servers ?? {}).filter((s) => s.ready).length, 1, `${user.name} has one running server`)
  }
  t.comment(`scenario 1: ${Date.now() - started} ms`)
})
