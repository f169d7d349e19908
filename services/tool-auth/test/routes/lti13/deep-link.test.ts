import { LTI_CLAIM } from '@ltilaunch/claims'
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose'
import t, { type Test } from 'tap'
import { build, type App } from '../../helper.js'
import { deadUrl, startBroker } from '../../support/broker.js'
import { formOf } from '../../support/browser.js'
import { launch, login, postCallback } from '../../support/launch.js'
import { startPlatform, type TestPlatform } from '../../support/platform.js'

const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'
const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'
const BROKER_TOKEN = 'test-broker-token-0123456789'

/** A deep linking request through the real login and callback, as the platform would send it. */
async function deepLinkingRequest (app: App, platform: TestPlatform, options: { roles?: string[], settings?: Record<string, unknown>, accept?: string } = {}) {
  const started = await login(app, platform)
  const claims = platform.claims(started.nonce, {
    [LTI_CLAIM.messageType]: 'LtiDeepLinkingRequest',
    [LTI_CLAIM.roles]: options.roles ?? [INSTRUCTOR],
    [LTI_CLAIM.deepLinkingSettings]: {
      deep_link_return_url: `${platform.issuer}/deep-link-return`,
      accept_types: ['ltiResourceLink'],
      accept_presentation_document_targets: ['iframe', 'window'],
      accept_multiple: false,
      auto_create: true,
      data: 'opaque-7',
      ...options.settings
    }
  })
  Reflect.deleteProperty(claims, LTI_CLAIM.resourceLink)
  return await postCallback(app, { id_token: await platform.sign(claims), state: started.state, cookie: started.cookie, ...(options.accept === undefined ? {} : { accept: options.accept }) })
}

/** The picker's form fields (hidden pick id), as a browser would submit them. */
function pickerForm (body: string): { action: string, pick: string } {
  const form = formOf(body)
  return { action: form.action, pick: form.fields.pick ?? '' }
}

async function submit (app: App, fields: Array<[string, string]>) {
  return await app.inject({
    method: 'POST',
    url: '/lti13/deep-link',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    payload: new URLSearchParams(fields).toString()
  })
}

/** The JWT an auto-submit page posts, verified against the tool's own /lti13/jwks as the platform would. */
async function postedResponse (app: App, platform: TestPlatform, body: string): Promise<{ action: string, payload: JWTPayload }> {
  const form = formOf(body)
  const jwks = (await app.inject('/lti13/jwks')).json()
  const { payload } = await jwtVerify(form.fields.JWT ?? '', createLocalJWKSet(jwks), { issuer: platform.clientId, audience: platform.issuer })
  return { action: form.action, payload }
}

async function setup (t: Test, env: Record<string, string> = {}) {
  const platform = await startPlatform(t)
  const broker = await startBroker(t)
  const app = await build(t, { env: { ...platform.env, BROKER_URL: broker.url, BROKER_SERVICE_TOKEN: BROKER_TOKEN, ...env } })
  return { platform, broker, app }
}

t.test('staff get a picker of the broker\'s images; the chosen one comes back as a signed ltiResourceLink, and its launch starts that image', async (t) => {
  const { platform, broker, app } = await setup(t)
  const res = await deepLinkingRequest(app, platform)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.body, 'PyTorch')
  t.match(res.body, 'Deep learning with PyTorch')
  t.match(res.body, 'quay.io/jupyter/minimal-notebook:latest')
  t.match(res.body, /name="course_name" value="DS101"/, 'the course label is prefilled')
  t.notMatch(res.body, 'name="JWT"', 'nothing is sent before the instructor chooses')
  const { action, pick } = pickerForm(res.body)
  t.equal(action, 'https://tool.test/lti13/deep-link')
  t.match(pick, /^[A-Za-z0-9_-]{43}$/)

  const answer = await submit(app, [['pick', pick], ['image', 'pytorch'], ['course_name', 'DS101'], ['title', 'Week 3: PyTorch'], ['text', 'Bring a GPU']])
  t.equal(answer.statusCode, 200, answer.body)
  const { action: returnUrl, payload } = await postedResponse(app, platform, answer.body)
  t.equal(returnUrl, `${platform.issuer}/deep-link-return`)
  t.equal(payload[LTI_CLAIM.messageType], 'LtiDeepLinkingResponse')
  t.equal(payload[LTI_CLAIM.version], '1.3.0')
  t.equal(payload[LTI_CLAIM.deploymentId], platform.deploymentId)
  t.equal(payload[LTI_CLAIM.deepLinkingData], 'opaque-7', 'data is echoed')
  t.ok(payload.nonce)
  const items = payload[LTI_CLAIM.deepLinkingContentItems] as Array<Record<string, unknown>>
  t.same(items, [{
    type: 'ltiResourceLink',
    url: 'https://tool.test/lti13/launch',
    title: 'Week 3: PyTorch',
    text: 'Bring a GPU',
    custom: { course_name: 'DS101', image: 'pytorch' },
    window: { targetName: '_blank' }
  }])

  const again = await submit(app, [['pick', pick], ['image', 'pytorch'], ['course_name', 'DS101'], ['title', 'Again']])
  t.equal(again.statusCode, 400)
  t.equal(again.json().code, 'TOOL_AUTH_DEEP_LINK_UNKNOWN', 'a choice is sent once')

  // A learner's launch of that link carries its custom parameters: the broker is asked for pytorch.
  const learner = await launch(app, platform, { lti: { roles: [LEARNER], custom: items[0]?.custom as Record<string, string> } })
  t.equal(learner.res.statusCode, 303, learner.res.body)
  t.equal(broker.calls.length, 1)
  t.equal(broker.calls[0]?.body.image, 'pytorch')
  t.match(broker.calls[0]?.body.custom, { course_name: 'DS101', image: 'pytorch' })
})

t.test('a learner\'s deep linking request is refused with a 403 page, and no picker is shown', async (t) => {
  const { platform, app } = await setup(t)
  const json = await deepLinkingRequest(app, platform, { roles: [LEARNER] })
  t.equal(json.statusCode, 403)
  t.equal(json.json().code, 'TOOL_AUTH_DEEP_LINK_STAFF_ONLY')
  const page = await deepLinkingRequest(app, platform, { roles: [LEARNER], accept: 'text/html' })
  t.equal(page.statusCode, 403)
  t.match(page.headers['content-type'], 'text/html')
  t.match(page.body, 'Only course staff')
  t.notMatch(page.body, 'name="pick"')
})

t.test('a return URL that is not http(s) is refused: nothing is posted to it', async (t) => {
  const { platform, app } = await setup(t)
  for (const url of ['javascript:alert(document.domain)', 'data:text/html,<script>alert(1)</script>', 'not a url']) {
    const res = await deepLinkingRequest(app, platform, { settings: { deep_link_return_url: url }, accept: 'text/html' })
    t.equal(res.statusCode, 400, url)
    t.notMatch(res.body, '<form', url)
    const json = await deepLinkingRequest(app, platform, { settings: { deep_link_return_url: url } })
    t.equal(json.json().code, 'TOOL_AUTH_DEEP_LINK_RETURN_URL_INVALID', url)
  }
  // Even a platform that accepts nothing we make gets no error posted to such a URL.
  const refused = await deepLinkingRequest(app, platform, { settings: { deep_link_return_url: 'javascript:x', accept_types: ['file'] } })
  t.equal(refused.json().code, 'TOOL_AUTH_DEEP_LINK_RETURN_URL_INVALID')
})

t.test('a placement that accepts no ltiResourceLink (or no window or iframe) gets a response carrying an error, with data echoed', async (t) => {
  const { platform, app } = await setup(t)
  const files = await deepLinkingRequest(app, platform, { settings: { accept_types: ['file', 'html'] } })
  t.equal(files.statusCode, 200, files.body)
  const { action, payload } = await postedResponse(app, platform, files.body)
  t.equal(action, `${platform.issuer}/deep-link-return`)
  t.same(payload[LTI_CLAIM.deepLinkingContentItems], [])
  t.match(payload[LTI_CLAIM.deepLinkingErrorMsg], /only makes LTI resource links.*file, html/)
  t.match(payload[LTI_CLAIM.deepLinkingErrorLog], 'accept_types')
  t.equal(payload[LTI_CLAIM.deepLinkingData], 'opaque-7')

  const embed = await deepLinkingRequest(app, platform, { settings: { accept_presentation_document_targets: ['embed'] } })
  const embedded = await postedResponse(app, platform, embed.body)
  t.same(embedded.payload[LTI_CLAIM.deepLinkingContentItems], [])
  t.match(embedded.payload[LTI_CLAIM.deepLinkingErrorMsg], 'window or an iframe')
})

t.test('accept_presentation_document_targets: an iframe-only placement gets an iframe link', async (t) => {
  const { platform, app } = await setup(t)
  const res = await deepLinkingRequest(app, platform, { settings: { accept_presentation_document_targets: ['iframe'] } })
  const { pick } = pickerForm(res.body)
  const answer = await submit(app, [['pick', pick], ['image', 'minimal'], ['course_name', 'DS101'], ['title', 'T']])
  const { payload } = await postedResponse(app, platform, answer.body)
  const [item] = payload[LTI_CLAIM.deepLinkingContentItems] as Array<Record<string, unknown>>
  t.same(item?.iframe, { height: 800 })
  t.equal(item?.window, undefined)
})

t.test('accept_multiple: one image unless the platform accepts several, then one link each', async (t) => {
  const { platform, app } = await setup(t)
  const single = await deepLinkingRequest(app, platform)
  t.match(single.body, 'type="radio"')
  const one = pickerForm(single.body)
  const two = await submit(app, [['pick', one.pick], ['image', 'minimal'], ['image', 'pytorch'], ['course_name', 'DS101'], ['title', 'T']])
  t.equal(two.statusCode, 400)
  t.equal(two.json().code, 'TOOL_AUTH_DEEP_LINK_ONE_ONLY')
  const retry = await submit(app, [['pick', one.pick], ['image', 'minimal'], ['course_name', 'DS101'], ['title', 'T']])
  t.equal(retry.statusCode, 200, 'a refused submission leaves the choice open')

  const multiple = await deepLinkingRequest(app, platform, { settings: { accept_multiple: true } })
  t.match(multiple.body, 'type="checkbox"')
  const many = pickerForm(multiple.body)
  const answer = await submit(app, [['pick', many.pick], ['image', 'minimal'], ['image', 'pytorch'], ['course_name', 'DS101'], ['title', 'Lab']])
  const { payload } = await postedResponse(app, platform, answer.body)
  const items = payload[LTI_CLAIM.deepLinkingContentItems] as Array<Record<string, unknown>>
  t.same(items.map((item) => [item.title, (item.custom as Record<string, string>).image]), [['Lab (Minimal)', 'minimal'], ['Lab (PyTorch)', 'pytorch']])
})

t.test('an image the picker did not offer, or none, is refused', async (t) => {
  const { platform, app } = await setup(t)
  const res = await deepLinkingRequest(app, platform)
  const { pick } = pickerForm(res.body)
  const evil = await submit(app, [['pick', pick], ['image', 'evil/miner:latest'], ['course_name', 'DS101'], ['title', 'T']])
  t.equal(evil.statusCode, 422)
  t.equal(evil.json().code, 'TOOL_AUTH_DEEP_LINK_IMAGE_NOT_OFFERED')
  const none = await submit(app, [['pick', pick], ['course_name', 'DS101'], ['title', 'T']])
  t.equal(none.json().code, 'TOOL_AUTH_DEEP_LINK_IMAGE_NOT_OFFERED')
  const forged = await submit(app, [['pick', 'A'.repeat(43)], ['image', 'minimal'], ['course_name', 'DS101'], ['title', 'T']])
  t.equal(forged.statusCode, 400)
  t.equal(forged.json().code, 'TOOL_AUTH_DEEP_LINK_UNKNOWN', 'a guessed pick id binds to nothing')
})

t.test('without a broker the image is free text; left empty, the link names none', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const res = await deepLinkingRequest(app, platform)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.body, /<input id="image" name="image"/)
  const { pick } = pickerForm(res.body)
  const answer = await submit(app, [['pick', pick], ['image', ''], ['course_name', 'DS101'], ['title', 'T']])
  const { payload } = await postedResponse(app, platform, answer.body)
  const [item] = payload[LTI_CLAIM.deepLinkingContentItems] as Array<Record<string, unknown>>
  t.same(item?.custom, { course_name: 'DS101' })
  t.equal(decodeJwt(formOf(answer.body).fields.JWT ?? '').iss, platform.clientId)
})

t.test('a broker that is down: the picker answers 503, nothing half-made', async (t) => {
  const { platform, app } = await setup(t, { BROKER_URL: await deadUrl() })
  const res = await deepLinkingRequest(app, platform)
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'TOOL_AUTH_BROKER_UNAVAILABLE')
})
