import formbody from '@fastify/formbody'
import { checkAudience, checkLaunchClaims, CUSTOM_KEY, IdTokenSchema, LTI_CLAIM } from '@ltilaunch/claims'
import Fastify from 'fastify'
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { Value } from 'typebox/value'
import { build, formOf, freePort, IMAGES, PASSWORDS, TEST_TOOLS } from './helper.js'

/** A browser over real HTTP: a cookie jar per origin, redirects not followed (the test follows them). */
class HttpBrowser {
  readonly jars = new Map<string, Map<string, string>>()

  async request (url: string, init: { method?: string, form?: Record<string, string> } = {}) {
    const origin = new URL(url).origin
    const jar = this.jars.get(origin) ?? new Map<string, string>()
    this.jars.set(origin, jar)
    const headers: Record<string, string> = { accept: 'text/html' }
    if (jar.size > 0) headers.cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
    if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
    const res = await fetch(url, {
      method: init.method ?? (init.form === undefined ? 'GET' : 'POST'),
      headers,
      redirect: 'manual',
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() })
    })
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at)
      const value = pair.slice(at + 1)
      if (value === '' || /max-age=0/i.test(cookie)) jar.delete(name)
      else jar.set(name, value)
    }
    return { status: res.status, location: res.headers.get('location'), body: await res.text() }
  }
}

/**
 * A stub LTI tool, doing what a real one does: it answers the login
 * initiation with a state and a nonce, and verifies the id_token it receives
 * against the platform's JWKS fetched over HTTP.
 */
async function stubTool (t: Test, platform: { issuer: string, url: string, clientId: string }) {
  const tool = Fastify()
  await tool.register(formbody)
  const pending = new Map<string, string>()
  const received: Array<{ payload: JWTPayload, header: { kid?: string, alg?: string } }> = []
  const jwks = createRemoteJWKSet(new URL(`${platform.url}/.well-known/jwks.json`))

  const initiate = async (params: Record<string, string>) => {
    if (params.iss !== platform.issuer || params.client_id !== platform.clientId) return { status: 400 as const, location: undefined }
    const state = randomUUID()
    const nonce = randomUUID()
    pending.set(state, nonce)
    const query = new URLSearchParams({
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      prompt: 'none',
      client_id: platform.clientId,
      redirect_uri: `${toolUrl}/callback`,
      login_hint: params.login_hint ?? '',
      lti_message_hint: params.lti_message_hint ?? '',
      state,
      nonce
    })
    return { status: 302 as const, location: `${platform.url}/lti/authorize?${query}` }
  }
  tool.get('/login', async (request, reply) => {
    const next = await initiate(request.query as Record<string, string>)
    return next.location === undefined ? reply.code(400).send() : reply.redirect(next.location, 302)
  })
  tool.post('/login', async (request, reply) => {
    const next = await initiate(request.body as Record<string, string>)
    return next.location === undefined ? reply.code(400).send() : reply.redirect(next.location, 302)
  })
  tool.post('/callback', async (request, reply) => {
    const { id_token: idToken, state } = request.body as Record<string, string>
    const nonce = state === undefined ? undefined : pending.get(state)
    if (idToken === undefined || nonce === undefined) return reply.code(400).send({ ok: false })
    pending.delete(state as string)
    const { payload, protectedHeader } = await jwtVerify(idToken, jwks, { issuer: platform.issuer, audience: platform.clientId, maxTokenAge: '10 minutes' })
    if (payload.nonce !== nonce) return reply.code(400).send({ ok: false, reason: 'nonce' })
    received.push({ payload, header: protectedHeader })
    return { ok: true, sub: payload.sub }
  })
  await tool.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await tool.close())
  const address = tool.server.address()
  const toolUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  return { url: toolUrl, received }
}

for (const method of ['get', 'post'] as const) {
  t.test(`a full launch against a tool over HTTP (login initiation by ${method.toUpperCase()}), verified with the published JWKS`, async (t) => {
    const port = await freePort()
    const platformUrl = `http://127.0.0.1:${port}`
    const clientId = 'stub-tool'
    const tool = await stubTool(t, { issuer: platformUrl, url: platformUrl, clientId })
    const registration = {
      client_id: clientId,
      name: 'Stub tool',
      deployment_ids: ['deploy-9'],
      initiate_login_uri: `${tool.url}/login`,
      login_initiation_method: method,
      target_link_uri: `${tool.url}/launch`,
      redirect_uris: [`${tool.url}/callback`],
      images: IMAGES,
      custom: { who: '$User.id' }
    }
    const app = await build(t, {
      env: { PORT: String(port), PUBLIC_URL: platformUrl, PLATFORM_TOOLS: JSON.stringify({ tools: [registration, ...TEST_TOOLS.tools] }) }
    })
    await app.listen({ host: '127.0.0.1', port })

    const browser = new HttpBrowser()
    const loginPage = await browser.request(`${platformUrl}/login`)
    const signedIn = await browser.request(`${platformUrl}/login`, { form: { ...formOf(loginPage.body).fields, username: 'grace', password: PASSWORDS.grace as string } })
    t.equal(signedIn.status, 303)
    const launchPage = await browser.request(`${platformUrl}/`)
    t.equal(launchPage.status, 200)
    const started = await browser.request(`${platformUrl}/launch`, {
      form: { csrf: formOf(launchPage.body).fields.csrf as string, client_id: clientId, course: 'ds101', image: IMAGES[1] as string }
    })

    // Platform → tool: the login initiation.
    let toAuthorize
    if (method === 'get') {
      t.equal(started.status, 303)
      t.ok(started.location?.startsWith(`${tool.url}/login?`))
      toAuthorize = await browser.request(started.location as string)
    } else {
      t.equal(started.status, 200)
      const form = formOf(started.body)
      t.equal(form.action, `${tool.url}/login`)
      t.same(Object.keys(form.fields).sort(), ['client_id', 'iss', 'login_hint', 'lti_deployment_id', 'lti_message_hint', 'target_link_uri'])
      toAuthorize = await browser.request(form.action, { form: form.fields })
    }
    // Tool → platform: the authorization request; platform → tool: the id_token.
    t.equal(toAuthorize.status, 302)
    const authorized = await browser.request(toAuthorize.location as string)
    t.equal(authorized.status, 200)
    const post = formOf(authorized.body)
    t.equal(post.action, `${tool.url}/callback`)
    const landed = await browser.request(post.action, { form: post.fields })
    t.equal(landed.status, 200, landed.body)
    t.equal(JSON.parse(landed.body).ok, true)

    t.equal(tool.received.length, 1)
    const { payload, header } = tool.received[0] as (typeof tool.received)[number]
    t.equal(header.kid, app.keys.kid)
    t.equal(header.alg, 'RS256')
    t.ok(Value.Check(IdTokenSchema, payload), 'the id_token matches the claims package schema')
    t.same(checkLaunchClaims(payload), { ok: true, problems: [] })
    t.same(checkAudience(payload, [clientId]), { ok: true, clientId })
    t.equal(payload.exp as number - (payload.iat as number), 300)
    t.equal(payload[LTI_CLAIM.deploymentId], 'deploy-9')
    t.equal(payload[LTI_CLAIM.targetLinkUri], `${tool.url}/launch`)
    const custom = payload[LTI_CLAIM.custom] as Record<string, string>
    t.equal(custom[CUSTOM_KEY.image], IMAGES[1])
    t.equal(custom[CUSTOM_KEY.courseName], 'Data Science 101')
    t.equal(custom.who, payload.sub)
    t.same(payload[LTI_CLAIM.roles], [
      'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
      'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty'
    ])
  })
}
