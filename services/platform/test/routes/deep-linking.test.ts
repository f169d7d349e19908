import { randomBytes } from 'node:crypto'
import { LTI_CLAIM } from '@ltilaunch/claims'
import Fastify from 'fastify'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'
import t, { type Test } from 'tap'
import { readConfig } from '../../src/config.js'
import { API_KEY, authorizeGet, authParams, Browser, build, formOf, signIn, TEST_ENV, TEST_TOOLS, type App } from '../helper.js'

const PLATFORM = 'http://platform.test'
const DL = { clientId: 'dl-tool', deploymentId: 'dl-1', login: 'https://dl.example/login', redirect: 'https://dl.example/callback', launch: 'https://dl.example/lti13/launch' }

interface FakeTool {
  jwksUri: string
  kid: string
  privateKey: CryptoKey
  jwksMode: 'ok' | 'fail'
  /** Signs a deep linking response as the tool (or as `key`), like tool-auth does. */
  respond: (fields: { data: unknown, items?: unknown[], aud?: string, iss?: string, nonce?: string, deploymentId?: string, extra?: Record<string, unknown> }, key?: { kid: string, privateKey: CryptoKey }) => Promise<string>
}

/** The tool's side: its JWKS over real HTTP, and responses signed with its key. */
async function fakeTool (t: Test): Promise<FakeTool> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const kid = 'tool-key-1'
  const jwk = { ...await exportJWK(publicKey), kid, alg: 'RS256', use: 'sig' }
  const server = Fastify()
  const tool: FakeTool = {
    jwksUri: '',
    kid,
    privateKey,
    jwksMode: 'ok',
    async respond (fields, key = { kid, privateKey }) {
      return await new SignJWT({
        [LTI_CLAIM.messageType]: 'LtiDeepLinkingResponse',
        [LTI_CLAIM.version]: '1.3.0',
        [LTI_CLAIM.deploymentId]: fields.deploymentId ?? DL.deploymentId,
        [LTI_CLAIM.deepLinkingContentItems]: fields.items ?? [{ type: 'ltiResourceLink', url: DL.launch, title: 'Week 3: PyTorch', text: 'Bring a GPU', custom: { image: 'pytorch', course_name: 'DS101' } }],
        [LTI_CLAIM.deepLinkingData]: fields.data,
        nonce: fields.nonce ?? randomBytes(12).toString('base64url'),
        ...fields.extra
      }).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
        .setIssuer(fields.iss ?? DL.clientId).setAudience(fields.aud ?? PLATFORM).setIssuedAt().setExpirationTime('5m')
        .sign(key.privateKey)
    }
  }
  server.get('/jwks', async (_request, reply) => tool.jwksMode === 'fail' ? await reply.code(500).send({}) : { keys: [jwk] })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  tool.jwksUri = `http://127.0.0.1:${(server.addresses()[0] as { port: number }).port}/jwks`
  return tool
}

async function setup (t: Test) {
  const tool = await fakeTool(t)
  const tools = [...TEST_TOOLS.tools, {
    client_id: DL.clientId,
    name: 'Notebooks',
    deployment_ids: [DL.deploymentId],
    initiate_login_uri: DL.login,
    target_link_uri: DL.launch,
    redirect_uris: [DL.redirect],
    jwks_uri: tool.jwksUri,
    deep_linking_url: DL.launch
  }]
  const app = await build(t, { env: { PLATFORM_TOOLS: JSON.stringify({ tools }) } })
  return { app, tool }
}

/** Staff press "Add a notebook link": the tool's login initiation, then the id_token the tool would receive. */
async function startDeepLinking (app: App, browser: Browser): Promise<JWTPayload> {
  const page = await browser.get('/courses/ds101')
  // The add form is the page's last (after each link's Launch and Remove).
  const form = formOf(page.body, (page.body.match(/<form\b/g)?.length ?? 1) - 1)
  const res = await browser.post(form.action, { ...form.fields, client_id: DL.clientId })
  if (res.statusCode !== 303) throw new Error(`deep linking did not start: ${res.statusCode} ${res.body.slice(0, 300)}`)
  const login = Object.fromEntries(new URL(res.headers.location as string).searchParams)
  const authorized = await authorizeGet(browser, authParams(login, { redirect_uri: DL.redirect }))
  const idToken = formOf(authorized.body).fields.id_token ?? ''
  return decodeJwt(idToken)
}

async function postReturn (app: App, jwt: string | undefined) {
  return await app.inject({
    method: 'POST',
    url: '/lti/deep-link-return',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    payload: new URLSearchParams(jwt === undefined ? {} : { JWT: jwt }).toString()
  })
}

t.test('staff add a link with the tool\'s picker; a learner sees it and launches exactly what it holds', async (t) => {
  const { app, tool } = await setup(t)
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()
  t.same(discovery['https://purl.imsglobal.org/spec/lti-platform-configuration'].messages_supported.map((m: { type: string }) => m.type), ['LtiResourceLinkRequest', 'LtiDeepLinkingRequest'], 'the platform says it sends deep linking requests')
  const home = await grace.get('/')
  t.match(home.body, 'href="/courses/ds101"', 'the launch page leads to the course pages')
  const course = await grace.get('/courses/ds101')
  t.equal(course.statusCode, 200)
  t.match(course.body, 'Add a notebook link')
  t.match(course.body, 'No link yet')

  const request = await startDeepLinking(app, grace)
  t.equal(request[LTI_CLAIM.messageType], 'LtiDeepLinkingRequest')
  t.equal(request[LTI_CLAIM.targetLinkUri], DL.launch)
  t.equal(request.aud, DL.clientId)
  t.match(request[LTI_CLAIM.roles], ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'])
  t.match(request[LTI_CLAIM.context], { id: 'ds101', label: 'DS101' })
  t.equal(request[LTI_CLAIM.resourceLink], undefined, 'a deep linking request has no resource link')
  const settings = request[LTI_CLAIM.deepLinkingSettings] as Record<string, unknown>
  t.match(settings, { deep_link_return_url: `${PLATFORM}/lti/deep-link-return`, accept_types: ['ltiResourceLink'], accept_multiple: true })
  t.match(settings.data, /^[A-Za-z0-9_-]{43}$/)

  // The tool's answer arrives as a cross-site form_post: no cookie comes with it.
  const answer = await postReturn(app, await tool.respond({ data: settings.data }))
  t.equal(answer.statusCode, 303, answer.body)
  t.equal(answer.headers.location, '/courses/ds101?added=1')
  const listed = await grace.get('/courses/ds101?added=1')
  t.match(listed.body, 'One link was added')
  t.match(listed.body, 'Week 3: PyTorch')
  t.match(listed.body, 'Bring a GPU')

  const ada = new Browser(app)
  await signIn(ada, 'ada')
  const learnerPage = await ada.get('/courses/ds101')
  t.match(learnerPage.body, 'Week 3: PyTorch')
  t.notMatch(learnerPage.body, 'Add a notebook link', 'learners cannot add links')
  t.notMatch(learnerPage.body, 'Remove')
  const launchForm = formOf(learnerPage.body)
  t.match(launchForm.action, /^\/courses\/ds101\/links\/[A-Za-z0-9_-]+\/launch$/)
  const launched = await ada.post(launchForm.action, launchForm.fields)
  t.equal(launched.statusCode, 303, launched.body)
  const login = Object.fromEntries(new URL(launched.headers.location as string).searchParams)
  t.equal(login.client_id, DL.clientId)
  t.equal(login.target_link_uri, DL.launch)
  const authorized = await authorizeGet(ada, authParams(login, { redirect_uri: DL.redirect }))
  const idToken = decodeJwt(formOf(authorized.body).fields.id_token ?? '')
  t.equal(idToken[LTI_CLAIM.messageType], 'LtiResourceLinkRequest')
  t.match(idToken[LTI_CLAIM.custom], { image: 'pytorch', course_name: 'DS101' }, 'the learner launches the image the instructor chose')
  t.match(idToken[LTI_CLAIM.roles], ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'])
  t.match(idToken[LTI_CLAIM.resourceLink], { id: launchForm.action.split('/')[4], title: 'Week 3: PyTorch' })

  // A learner cannot start a deep linking request, even by posting the form.
  const csrf = launchForm.fields.csrf as string
  const refused = await ada.post('/courses/ds101/deep-link', { csrf, client_id: DL.clientId }, { accept: 'application/json' })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'PLATFORM_DEEP_LINK_STAFF_ONLY')

  // Staff remove it; launching it afterwards is an unknown link.
  const graceCourse = await grace.get('/courses/ds101')
  const remove = formOf(graceCourse.body, 1)
  t.match(remove.action, /\/delete$/)
  t.equal((await grace.post(remove.action, remove.fields)).statusCode, 303)
  const gone = await ada.post(launchForm.action, launchForm.fields, { accept: 'application/json' })
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().code, 'PLATFORM_UNKNOWN_LINK')
})

t.test('the tool\'s answer is refused with a wrong key, a wrong audience, a replayed nonce, wrong data, or none', async (t) => {
  const { app, tool } = await setup(t)
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const data = (await startDeepLinking(app, grace))[LTI_CLAIM.deepLinkingSettings] as { data: string }

  t.equal((await postReturn(app, undefined)).json().code, 'PLATFORM_DEEP_LINK_RESPONSE_MISSING')

  const other = await generateKeyPair('RS256')
  const wrongKey = await postReturn(app, await tool.respond({ data: data.data }, { kid: tool.kid, privateKey: other.privateKey }))
  t.equal(wrongKey.statusCode, 400)
  t.equal(wrongKey.json().code, 'PLATFORM_DEEP_LINK_TOKEN_INVALID', 'a signature by another key')
  const unknownKid = await postReturn(app, await tool.respond({ data: data.data }, { kid: 'not-published', privateKey: other.privateKey }))
  t.equal(unknownKid.json().code, 'PLATFORM_DEEP_LINK_TOKEN_INVALID', 'a kid the tool does not publish')
  const strangerIss = await postReturn(app, await tool.respond({ data: data.data, iss: 'someone-else' }))
  t.equal(strangerIss.json().code, 'PLATFORM_DEEP_LINK_TOKEN_INVALID', 'an issuer that is no registered tool')
  const impostor = await postReturn(app, await tool.respond({ data: data.data, iss: 'test-tool' }))
  t.equal(impostor.json().code, 'PLATFORM_DEEP_LINK_TOKEN_INVALID', 'another registered tool\'s name cannot be borrowed')

  const audience = await postReturn(app, await tool.respond({ data: data.data, aud: 'https://another-platform.example' }))
  t.equal(audience.statusCode, 400)
  t.equal(audience.json().code, 'PLATFORM_DEEP_LINK_AUDIENCE')

  const wrongData = await postReturn(app, await tool.respond({ data: 'not-what-we-sent' }))
  t.equal(wrongData.json().code, 'PLATFORM_DEEP_LINK_DATA_MISMATCH')
  const noData = await postReturn(app, await tool.respond({ data: undefined }))
  t.equal(noData.json().code, 'PLATFORM_DEEP_LINK_DATA_MISMATCH')

  const wrongDeployment = await postReturn(app, await tool.respond({ data: data.data, deploymentId: 'dep-other' }))
  t.equal(wrongDeployment.json().code, 'PLATFORM_DEEP_LINK_TOKEN_INVALID')

  // Those refusals did not use up the request: the right answer still lands, once.
  const nonce = 'nonce-once'
  const good = await postReturn(app, await tool.respond({ data: data.data, nonce }))
  t.equal(good.statusCode, 303, good.body)
  const replayed = await postReturn(app, await tool.respond({ data: data.data, nonce }))
  t.equal(replayed.json().code, 'PLATFORM_DEEP_LINK_NONCE_REPLAYED')
  const again = await postReturn(app, await tool.respond({ data: data.data }))
  t.equal(again.json().code, 'PLATFORM_DEEP_LINK_DATA_MISMATCH', 'a request is answered once')
})

t.test('a tool that answers with an error, or with nothing usable, adds no link and says why', async (t) => {
  const { app, tool } = await setup(t)
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const first = (await startDeepLinking(app, grace))[LTI_CLAIM.deepLinkingSettings] as { data: string }
  const refused = await app.inject({
    method: 'POST',
    url: '/lti/deep-link-return',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    payload: new URLSearchParams({ JWT: await tool.respond({ data: first.data, items: [], extra: { [LTI_CLAIM.deepLinkingErrorMsg]: 'Only <b>links</b> here.' } }) }).toString()
  })
  t.equal(refused.statusCode, 200)
  t.match(refused.body, 'No link was added')
  t.match(refused.body, 'Only &lt;b&gt;links&lt;/b&gt; here.', 'the tool\'s words, escaped')
  const second = (await startDeepLinking(app, grace))[LTI_CLAIM.deepLinkingSettings] as { data: string }
  const files = await postReturn(app, await tool.respond({ data: second.data, items: [{ type: 'file', url: 'https://x.example/f' }, { type: 'ltiResourceLink', url: 'javascript:alert(1)' }] }))
  t.equal(files.statusCode, 200)
  t.match((await grace.get('/courses/ds101')).body, 'No link yet')
})

t.test('the tool\'s keys cannot be fetched: 503, and the request is still open', async (t) => {
  const { app, tool } = await setup(t)
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const settings = (await startDeepLinking(app, grace))[LTI_CLAIM.deepLinkingSettings] as { data: string }
  tool.jwksMode = 'fail'
  const down = await postReturn(app, await tool.respond({ data: settings.data }))
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'PLATFORM_DEEP_LINK_JWKS_UNAVAILABLE')
  tool.jwksMode = 'ok'
  t.equal((await postReturn(app, await tool.respond({ data: settings.data }))).statusCode, 303)
})

t.test('a tool without a deep linking URL cannot be used to add links', async (t) => {
  const app = await build(t)
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const course = await grace.get('/courses/ds101')
  t.notMatch(course.body, 'Add a notebook link', 'no tool offers a picker')
  const csrf = formOf((await grace.get('/')).body).fields.csrf as string
  const res = await grace.post('/courses/ds101/deep-link', { csrf, client_id: 'test-tool' }, { accept: 'application/json' })
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'PLATFORM_DEEP_LINKING_NOT_CONFIGURED')
  t.throws(() => readConfig({ ...TEST_ENV, PLATFORM_TOOLS: JSON.stringify({ tools: [{ ...TEST_TOOLS.tools[2], deep_linking_url: DL.launch }] }) }), /deep_linking_url needs jwks_uri/)
})

t.test('course pages: members only, and a course one is not in is refused', async (t) => {
  const { app } = await setup(t)
  const anonymous = await new Browser(app).get('/courses/ds101')
  t.equal(anonymous.statusCode, 303)
  t.equal(anonymous.headers.location, '/login')
  const ada = new Browser(app)
  await signIn(ada, 'ada')
  const other = await ada.get('/courses/ml201', { accept: 'application/json' })
  t.equal(other.statusCode, 403)
  t.equal(other.json().code, 'PLATFORM_UNKNOWN_COURSE')
  const csrf = formOf((await ada.get('/')).body).fields.csrf as string
  const unknown = await ada.post('/courses/ds101/links/nope/launch', { csrf }, { accept: 'application/json' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'PLATFORM_UNKNOWN_LINK')
  const forged = await ada.post('/courses/ds101/links/nope/launch', { csrf: 'x' }, { accept: 'application/json' })
  t.equal(forged.json().code, 'PLATFORM_CSRF_FAILED')
})

t.test('the host API creates, lists and removes course links; members launch them', async (t) => {
  const { app } = await setup(t)
  const auth = { authorization: `Bearer ${API_KEY}` }
  const unauthorized = await app.inject({ method: 'POST', url: '/api/v1/courses/ds101/links', payload: { client_id: DL.clientId, title: 'x' } })
  t.equal(unauthorized.statusCode, 401)
  t.equal(unauthorized.json().code, 'PLATFORM_UNAUTHORIZED')
  const unknownTool = await app.inject({ method: 'POST', url: '/api/v1/courses/ds101/links', headers: auth, payload: { client_id: 'nope', title: 'x' } })
  t.equal(unknownTool.json().code, 'PLATFORM_UNKNOWN_TOOL')
  const badUrl = await app.inject({ method: 'POST', url: '/api/v1/courses/ds101/links', headers: auth, payload: { client_id: DL.clientId, title: 'x', url: 'javascript:alert(1)' } })
  t.equal(badUrl.statusCode, 400)

  const created = await app.inject({ method: 'POST', url: '/api/v1/courses/ds101/links', headers: auth, payload: { client_id: DL.clientId, title: 'SciPy lab', custom: { image: 'scipy', course_name: 'DS101' } } })
  t.equal(created.statusCode, 201, created.body)
  const link = created.json()
  t.match(link, { clientId: DL.clientId, deploymentId: DL.deploymentId, title: 'SciPy lab', custom: { image: 'scipy' }, createdBy: 'api' })
  const list = await app.inject({ url: '/api/v1/courses/ds101/links', headers: auth })
  t.same(list.json().links.map((l: { id: string }) => l.id), [link.id])

  const ada = new Browser(app)
  await signIn(ada, 'ada')
  const form = formOf((await ada.get('/courses/ds101')).body)
  const launched = await ada.post(form.action, form.fields)
  const login = Object.fromEntries(new URL(launched.headers.location as string).searchParams)
  const idToken = decodeJwt(formOf((await authorizeGet(ada, authParams(login, { redirect_uri: DL.redirect }))).body).fields.id_token ?? '')
  t.match(idToken[LTI_CLAIM.custom], { image: 'scipy', course_name: 'DS101' })

  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/courses/ds101/links/${link.id as string}`, headers: auth })).statusCode, 204)
  const again = await app.inject({ method: 'DELETE', url: `/api/v1/courses/ds101/links/${link.id as string}`, headers: auth })
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'PLATFORM_UNKNOWN_LINK')
})
