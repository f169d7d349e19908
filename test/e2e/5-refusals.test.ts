/**
 * Scenario 5: refusals seen end to end, through the whole stack and an
 * unmodified hub. Each ends on a clear page with its error code and creates
 * nothing in the hub:
 *
 * - a disallowed image (the platform offers it, the broker's policy does not
 *   allow it: 422, and the person sees the broker's message);
 * - an expired launch (the platform's ID_TOKEN_TTL is 10 s here, its
 *   minimum, tool-auth's time_leeway 0, and the self-submitting form is held
 *   past exp while the other cases run);
 * - a replayed callback POST (the same id_token and state again, after a
 *   launch that went through);
 * - a callback without the state cookie whose state was already used.
 */
import { readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { BrowserClient, type Page } from '../harness/browser-client.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { stepsOf } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, launchFormFields, ourToolRegistration, planStack, shownErrorCode, signIn, startStack, USERS, type DemoUser } from './stack.js'

const DISALLOWED = 'docker.io/evil/miner:latest'
const ID_TOKEN_TTL = 10 // the platform's minimum
const started = Date.now()
const plan = await planStack('s5')
const hub = await startJupyterHub(t, {
  name: 's5-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
const stack = await startStack(t, plan, {
  hub,
  // The platform offers an image that the broker's policy does not allow.
  tools: [ourToolRegistration(plan, [{ value: DISALLOWED, label: 'Not allowed by the broker' }])],
  env: { platform: { ID_TOKEN_TTL: String(ID_TOKEN_TTL) }, toolAuth: { time_leeway: '0' } }
})
t.comment(`hub and stack ready in ${Date.now() - started} ms`)

const callbackUrl = `${plan.toolAuthUrl}/lti13/oauth_callback`

/**
 * Signs in and starts a launch, stopping at the platform's page that would
 * post the id_token to tool-auth (the form is returned, not submitted).
 */
async function heldLaunch (user: DemoUser, image: string): Promise<{ client: BrowserClient, form: Page, fields: Record<string, string> }> {
  const client = new BrowserClient()
  const home = await signIn(client, plan.platformUrl, user)
  const form = await client.navigate(`${plan.platformUrl}/launch`, { method: 'POST', form: launchFormFields(home, { course: 'ds101', image }), initiator: home.url })
  const post = form.forms()[0]
  if (form.status !== 200 || post?.action !== callbackUrl) throw new Error(`expected the platform's form_post page towards ${callbackUrl}, got ${form.status} ${form.url}\n${form.body.slice(0, 400)}`)
  return { client, form, fields: Object.fromEntries(post.entries) }
}

/** Asserts that the hub knows nothing of the user. */
async function nothingInHub (t: Test, user: DemoUser): Promise<void> {
  t.equal(await hub.api.user(USERS[user].email), undefined, `no hub user ${USERS[user].email}`)
}

// Held now, submitted last: the other cases run while its id_token expires.
const expiring = await heldLaunch('ada', IMAGES.scipy)
const heldAt = Date.now()

t.test('a disallowed image: the broker refuses (422) and the person sees its message', async (t) => {
  const client = new BrowserClient()
  const home = await signIn(client, plan.platformUrl, 'ada')
  const launch = await client.followLaunch(`${plan.platformUrl}/launch`, {
    method: 'POST',
    form: launchFormFields(home, { course: 'ds101', image: DISALLOWED }),
    initiator: home.url,
    refresh: true,
    maxSteps: 20
  })
  const page = launch.page
  t.equal(page.status, 422, `a 422 page\n${stepsOf(launch)}`)
  t.equal(page.url, callbackUrl, 'shown by tool-auth at the callback')
  t.equal(shownErrorCode(page.body), 'TOOL_AUTH_IMAGE_REFUSED', 'error code TOOL_AUTH_IMAGE_REFUSED')
  t.match(page.body, `The image &quot;${DISALLOWED}&quot; is not allowed`, 'the broker\'s message names the image')
  t.match(page.body, IMAGES.minimal, 'and says what is allowed')
  t.notOk(launch.steps.some((step) => step.url.startsWith(plan.brokerUrl) || step.url.startsWith(hub.url)), 'the browser went neither to the broker nor to the hub')
  // No session was opened: tool-auth's OAuth2 server does not know this browser.
  const authorize = await client.get(`${plan.toolAuthUrl}/oauth2/authorize?response_type=code&client_id=jupyterhub&redirect_uri=${encodeURIComponent(`${hub.url}/hub/oauth_callback`)}&state=x`)
  t.equal(shownErrorCode(authorize.body), 'TOOL_AUTH_NO_SESSION', 'no tool-auth session for this browser')
  await nothingInHub(t, 'ada')
})

t.test('a replayed callback POST is refused', async (t) => {
  const { client, form, fields } = await heldLaunch('grace', IMAGES.minimal)
  const first = await client.submitForm(form, { via: 'auto-submit' })
  t.equal(first.steps[0]?.status, 303, 'the first POST is a launch')
  t.match(first.url, `${plan.brokerUrl}/launches/`, 'and goes on to the broker\'s progress page')
  const launchId = new URL(first.url).pathname.split('/')[2] ?? ''
  // The same id_token and state again, from the same browser.
  const replay = await client.post(callbackUrl, fields, { initiator: form.url })
  t.equal(replay.url, callbackUrl, 'the replay stays on the callback')
  t.equal(replay.status, 400, 'a 400 page')
  t.equal(shownErrorCode(replay.body), 'TOOL_AUTH_STATE_UNKNOWN', 'error code TOOL_AUTH_STATE_UNKNOWN')
  // The first launch alone reaches the hub: one user, one server, one spawn.
  const record = await waitForBroker(launchId)
  t.equal(record.status, 'ready', 'the first launch is served')
  const model = await hub.api.user(USERS.grace.email)
  t.same(Object.entries(model?.servers ?? {}).filter(([, server]) => server.ready || server.pending !== null).map(([name]) => name), [record.serverName], 'one server, the first launch\'s')
  t.same(readdirSync(hub.recordDir), [`${USERS.grace.email}--${record.serverName}.json`], 'one spawn in the hub')
})

t.test('no state cookie, and the state already used: refused', async (t) => {
  const { client, form, fields } = await heldLaunch('ada', IMAGES.minimal)
  // The state is used by a callback that fails (a tampered id_token), in the browser that owns it.
  const [header, payload, signature] = (fields.id_token ?? '').split('.')
  const tampered = `${header}.${payload}.${(signature ?? '').slice(0, -4)}AAAA`
  const spoiled = await client.post(callbackUrl, { ...fields, id_token: tampered }, { initiator: form.url })
  t.equal(shownErrorCode(spoiled.body), 'TOOL_AUTH_TOKEN_INVALID', 'a tampered id_token is refused (and uses up the state)')
  // The real id_token and state from a browser without the state cookie (as in an iframe that blocks them).
  const other = new BrowserClient()
  const page = await other.post(callbackUrl, fields, { initiator: form.url })
  t.equal(page.url, callbackUrl)
  t.equal(page.status, 400, 'a 400 page')
  t.equal(shownErrorCode(page.body), 'TOOL_AUTH_STATE_UNKNOWN', 'error code TOOL_AUTH_STATE_UNKNOWN')
  t.match(page.body, /launch again|again from/i, 'the page says what to do')
  await nothingInHub(t, 'ada')
})

t.test('an expired launch: the id_token held past exp + leeway is refused', async (t) => {
  const { client, form } = expiring
  const exp = JSON.parse(Buffer.from((expiring.fields.id_token ?? '').split('.')[1] ?? '', 'base64url').toString()) as { exp: number, iat: number }
  t.equal(exp.exp - exp.iat, ID_TOKEN_TTL, `the platform signed it for ${ID_TOKEN_TTL} s`)
  await sleep(Math.max(0, heldAt + (ID_TOKEN_TTL + 1.5) * 1000 - Date.now()))
  t.ok(Date.now() / 1000 > exp.exp + 1, 'submitted after exp (time_leeway 0)')
  const page = await client.submitForm(form, { via: 'auto-submit' })
  t.equal(page.url, callbackUrl)
  t.equal(page.status, 400, 'a 400 page')
  t.equal(shownErrorCode(page.body), 'TOOL_AUTH_TOKEN_EXPIRED', 'error code TOOL_AUTH_TOKEN_EXPIRED')
  t.match(page.body, /expired/i, 'the page says the launch expired')
  await nothingInHub(t, 'ada')
})

t.test('the hub holds only what the one good launch made', async (t) => {
  t.same((await hub.api.users()).map((u) => u.name), [USERS.grace.email], 'one hub user')
  t.comment(`scenario 5: ${Date.now() - started} ms`)
})

async function waitForBroker (id: string): Promise<Awaited<ReturnType<typeof stack.brokerLaunch>>> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const record = await stack.brokerLaunch(id)
    if (record.status === 'ready' || record.status === 'failed' || Date.now() > deadline) return record
    await sleep(250)
  }
}
