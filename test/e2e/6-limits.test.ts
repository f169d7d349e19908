/**
 * Scenario 6: what a host site may send is what a launch can deliver. The
 * launch API refuses a custom claim one byte past @ltilaunch/claims'
 * CUSTOM_MAX_BYTES, and the largest one it accepts travels whole: signed by
 * the real platform into an id_token, form-posted by a browser to the real
 * tool-auth (whose callback takes ID_TOKEN_FORM_POST_LIMIT), accepted, and
 * handed to the broker (dry-run driver). No hub is needed.
 */
import { createHash, randomBytes } from 'node:crypto'
import { CUSTOM_MAX_BYTES } from '@ltilaunch/claims'
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { stepsOf } from './launch.js'
import { IMAGES, planStack, startStack } from './stack.js'

const apiKey = randomBytes(24).toString('hex')
const plan = await planStack('s6')
await startStack(t, plan, { env: { platform: { PLATFORM_API_KEYS: `sha256:${createHash('sha256').update(apiKey).digest('hex')}` } } })

/** A launch request whose custom parameters hold one filler value of `length` characters (besides the image). */
function request (length: number): Record<string, unknown> {
  return {
    user: { id: 'e2e-limits', email: 'limits@example.org', name: 'Kay Limit', roles: ['Learner'] },
    client_id: 'ltilaunch-jupyterhub',
    context: { id: 'lim101', label: 'LIM101', title: 'Limits 101' },
    resource_link: { id: 'limits-link' },
    // Values are bounded to 8192 characters each: the filler is split over as many as it takes.
    custom: {
      image: IMAGES.minimal,
      ...Object.fromEntries(Array.from({ length: Math.ceil(length / 8192) }, (_, i) => [`f${String(i).padStart(2, '0')}`, 'x'.repeat(Math.min(8192, length - i * 8192))]))
    }
  }
}

async function createLaunch (length: number): Promise<{ status: number, body: Record<string, unknown> }> {
  const reply = await fetch(`${plan.platformUrl}/api/v1/launches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(request(length)),
    signal: AbortSignal.timeout(10_000)
  })
  return { status: reply.status, body: await reply.json() as Record<string, unknown> }
}

t.test('the largest custom claim the launch API accepts reaches tool-auth and the broker; one character more is refused at the API', async (t) => {
  // The registration adds its own parameters (course_name, context_label, ...): find the boundary as the API sees it.
  let accepted = 0
  let refused = CUSTOM_MAX_BYTES
  t.equal((await createLaunch(refused)).body.code, 'PLATFORM_CUSTOM_TOO_LARGE')
  while (refused - accepted > 1) {
    const middle = Math.floor((accepted + refused) / 2)
    if ((await createLaunch(middle)).status === 201) accepted = middle
    else refused = middle
  }
  t.ok(accepted > CUSTOM_MAX_BYTES - 1024, `the largest accepted filler is ${accepted} characters, near CUSTOM_MAX_BYTES`)

  const over = await createLaunch(accepted + 1)
  t.equal(over.status, 422, 'one character more is refused at the API')
  t.equal(over.body.code, 'PLATFORM_CUSTOM_TOO_LARGE')
  t.match(over.body.message, `${CUSTOM_MAX_BYTES + 1} bytes as JSON`, 'exactly one byte past the limit')

  const largest = await createLaunch(accepted)
  t.equal(largest.status, 201)
  const launch = await new BrowserClient().followLaunch(largest.body.launchUrl as string, { maxSteps: 20 })
  const callback = launch.steps.find((step) => step.method === 'POST' && step.url === `${plan.toolAuthUrl}/lti13/oauth_callback`)
  t.equal(callback?.status, 303, `tool-auth accepted the form-posted id_token\n${stepsOf(launch)}`)
  t.match(launch.page.url, `${plan.brokerUrl}/launches/`, 'and the launch reached the broker')
  t.equal(launch.page.status, 200)
})
