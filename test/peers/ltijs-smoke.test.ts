/**
 * The ltijs peer on its own: it starts on a fresh PostgreSQL database,
 * registers a platform, answers the OIDC login initiation as LTI 1.3 says
 * (and as its quirks say: the redirect_uri is the target_link_uri without
 * its query), and records what its launch handler sees. The launch here
 * comes from a minimal platform made in this test (a key pair, a JWKS and
 * an authorization endpoint that answers with a self-submitting form); the
 * scenarios use our platform instead.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import t, { type Test } from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { databaseExists } from '../harness/postgres.js'
import { startLtijsTool } from './ltijs-tool.js'

const LTI = 'https://purl.imsglobal.org/spec/lti/claim/'
const CLIENT_ID = 'ltijs-smoke-client'
const DEPLOYMENT_ID = 'deployment-1'

function escape (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Just enough of a platform: JWKS and an authorization endpoint that signs an id_token. */
async function miniPlatform (t: Test, claims: () => Record<string, unknown>): Promise<{ issuer: string, last: { idToken: string, state: string } }> {
  const last = { idToken: '', state: '' }
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid: 'smoke-1', alg: 'RS256', use: 'sig' }
  let issuer = ''
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer)
    if (url.pathname === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))
      return
    }
    if (url.pathname === '/authorize') {
      const q = url.searchParams
      new SignJWT({
        ...claims(),
        nonce: q.get('nonce'),
        [`${LTI}message_type`]: 'LtiResourceLinkRequest',
        [`${LTI}version`]: '1.3.0',
        [`${LTI}deployment_id`]: DEPLOYMENT_ID,
        [`${LTI}target_link_uri`]: q.get('redirect_uri')
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'smoke-1', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(CLIENT_ID)
        .setSubject(q.get('login_hint') ?? '')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
        .then((idToken) => {
          last.idToken = idToken
          last.state = q.get('state') ?? ''
          res.writeHead(200, { 'content-type': 'text/html' }).end(`<form id="autosubmit" method="post" action="${escape(q.get('redirect_uri') ?? '')}">
<input type="hidden" name="id_token" value="${escape(idToken)}"><input type="hidden" name="state" value="${escape(q.get('state') ?? '')}">
</form><script>document.getElementById('autosubmit').submit()</script>`)
        }, (err: Error) => { res.writeHead(500).end(err.message) })
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  return { issuer, last }
}

t.test('ltijs starts, registers a platform, and records a launch', async (t) => {
  const started = Date.now()
  const platform = await miniPlatform(t, () => ({
    name: 'Ada Learner',
    email: 'ada@example.test',
    [`${LTI}roles`]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
    [`${LTI}context`]: { id: 'course-101', label: 'C101', title: 'Course 101' },
    [`${LTI}resource_link`]: { id: 'link-1', title: 'Notebook' },
    [`${LTI}custom`]: { image: 'python', course_name: 'course-101' }
  }))
  const tool = await startLtijsTool(t, {
    platform: {
      url: platform.issuer,
      name: 'smoke platform',
      clientId: CLIENT_ID,
      authenticationEndpoint: `${platform.issuer}/authorize`,
      accesstokenEndpoint: `${platform.issuer}/token`,
      authConfig: { method: 'JWK_SET', key: `${platform.issuer}/jwks.json` }
    }
  })
  t.comment(`ltijs ready in ${tool.proc.startMs} ms (with its database ${Date.now() - started} ms)`)
  t.ok(await databaseExists(tool.database), `its database ${tool.database} exists`)
  t.same(await tool.launches(), [])

  // The login initiation: a redirect to the platform's authorization endpoint.
  const login = new URL(tool.loginUrl)
  const params = { iss: platform.issuer, login_hint: 'ada', target_link_uri: `${tool.launchUrl}?course=101`, lti_message_hint: 'hint-1', client_id: CLIENT_ID, lti_deployment_id: DEPLOYMENT_ID }
  for (const [name, value] of Object.entries(params)) login.searchParams.set(name, value)
  const reply = await fetch(login, { redirect: 'manual' })
  t.equal(reply.status, 302)
  const authorize = new URL(reply.headers.get('location') ?? '')
  t.equal(`${authorize.origin}${authorize.pathname}`, `${platform.issuer}/authorize`)
  const q = Object.fromEntries(authorize.searchParams)
  t.match(q, {
    scope: 'openid',
    response_type: 'id_token',
    response_mode: 'form_post',
    prompt: 'none',
    client_id: CLIENT_ID,
    login_hint: 'ada',
    lti_message_hint: 'hint-1',
    redirect_uri: tool.launchUrl
  }, 'the redirect_uri is the target_link_uri without its query')
  t.ok(q.state && q.nonce)
  t.match(reply.headers.getSetCookie().join('\n'), new RegExp(`state${q.state}=.*Max-Age=60`), 'the state cookie lives 60 s')

  const unknown = await fetch(`${tool.loginUrl}?iss=http://elsewhere.test&login_hint=x&target_link_uri=${encodeURIComponent(tool.launchUrl)}`, { redirect: 'manual' })
  t.equal(unknown.status, 400, 'an unregistered issuer is refused')

  // A whole launch in a browser without scripts: login, authorize, the form post, the app.
  const browser = new BrowserClient()
  const launch = await browser.followLaunch(login.toString())
  t.equal(launch.page.status, 200, 'the launch lands on the tool')
  t.match(launch.page.body, /ltijs accepted the launch/)
  t.same(launch.steps.map((s) => `${s.via} ${s.method} ${s.status}`), [
    'navigate GET 302', 'redirect GET 200', 'auto-submit POST 302', 'redirect GET 200'
  ])
  const seen = await tool.waitForLaunch((l) => l.token.user === 'ada')
  t.equal(seen.token.iss, platform.issuer)
  t.equal(seen.token.clientId, CLIENT_ID)
  t.equal(seen.token.deploymentId, DEPLOYMENT_ID)
  t.match(seen.token.userInfo, { name: 'Ada Learner', email: 'ada@example.test' })
  t.same(seen.context.roles, ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'])
  t.match(seen.context.context, { id: 'course-101', title: 'Course 101' })
  t.same(seen.context.custom, { image: 'python', course_name: 'course-101' })
  t.match(seen.query, { course: '101' }, 'the target_link_uri query comes back to the app')

  // The same form post again: ltijs refuses it, and the refusal is recorded.
  const replay = await browser.post(tool.launchUrl, { id_token: platform.last.idToken, state: platform.last.state }, { initiator: `${platform.issuer}/authorize` })
  t.equal(replay.status, 401, 'a replayed id_token is refused')
  const refusals = await tool.refusals()
  t.same(refusals.map((r) => `${r.kind} ${r.path}`), ['unregistered-platform /login', 'invalid-token /launch'])
  t.match(refusals[1]?.error, { details: { message: /MISSING_VALIDATION_COOKIE|NONCE_ALREADY_RECEIVED/ } })
  t.equal((await tool.launches()).length, 1, 'and no second launch is recorded')
  t.comment(`whole ltijs smoke test ${Date.now() - started} ms`)
})

t.test('ltijs drops its database at the end', async (t) => {
  let name = ''
  await t.test('a tool that stops', async (t) => {
    const tool = await startLtijsTool(t, {
      name: 'ltijs-cleanup',
      platform: {
        url: 'http://127.0.0.1:9', name: 'nowhere', clientId: 'c', authenticationEndpoint: 'http://127.0.0.1:9/a', accesstokenEndpoint: 'http://127.0.0.1:9/t', authConfig: { method: 'JWK_SET', key: 'http://127.0.0.1:9/j' }
      }
    })
    name = tool.database
    t.ok(await databaseExists(name))
  })
  t.notOk(await databaseExists(name), `${name} is dropped`)
})
