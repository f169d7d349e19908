/**
 * The PyLTI1p3 peer on its own (no platform): it starts with the
 * virtualenv's Python, serves its public key as a JWKS, answers an OIDC
 * login initiation from its configured issuer as LTI 1.3 says (a redirect to
 * auth_login_url with its state cookie), and refuses, with PyLTI1p3's own
 * reason, a login from an unknown issuer and a launch without a valid
 * id_token. The scenarios (e2e 15) launch it from our platform.
 */
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { startPylti1p3Tool } from './pylti1p3-tool.js'

const ISSUER = 'https://platform.example.edu'
const CLIENT_ID = 'pylti1p3-smoke'

const tool = await startPylti1p3Tool(t, {
  name: 'pylti1p3-smoke',
  issuer: ISSUER,
  clients: [{ client_id: CLIENT_ID, deployment_ids: ['1'] }],
  authLoginUrl: `${ISSUER}/lti/authorize`,
  authTokenUrl: `${ISSUER}/lti/token`,
  keySetUrl: `${ISSUER}/.well-known/jwks.json`,
  activity: { tag: 'smoke', label: 'Smoke', resource_id: 'smoke', score_maximum: 10, score_given: 8 }
})

t.test('the JWKS is the public half of the tool\'s key, with a kid', async (t) => {
  const reply = await fetch(tool.jwksUrl)
  t.equal(reply.status, 200)
  const jwks = await reply.json() as { keys: Array<Record<string, string>> }
  t.equal(jwks.keys.length, 1)
  const [jwk] = jwks.keys
  t.match(jwk, { kty: 'RSA', alg: 'RS256', use: 'sig', kid: /.+/, e: 'AQAB' })
  t.notOk(jwk && 'd' in jwk, 'no private part')
  const publicPem = readFileSync(path.join(path.dirname(tool.recordFile), 'public.pem'), 'utf8')
  t.equal(createPublicKey(publicPem).export({ format: 'jwk' }).n, jwk?.n, 'the modulus of the tool\'s own key')
})

t.test('a login from the issuer redirects to auth_login_url with state, nonce and the hints', async (t) => {
  const login = new URL(tool.loginUrl)
  login.search = new URLSearchParams({
    iss: ISSUER,
    client_id: CLIENT_ID,
    login_hint: 'hint-1',
    lti_message_hint: 'message-1',
    target_link_uri: tool.launchUrl,
    lti_deployment_id: '1'
  }).toString()
  const reply = await fetch(login, { redirect: 'manual' })
  t.equal(reply.status, 302, await reply.text())
  const location = new URL(reply.headers.get('location') ?? '')
  t.equal(`${location.origin}${location.pathname}`, `${ISSUER}/lti/authorize`)
  const q = Object.fromEntries(location.searchParams)
  t.match(q, {
    scope: 'openid',
    response_type: 'id_token',
    response_mode: 'form_post',
    prompt: 'none',
    client_id: CLIENT_ID,
    redirect_uri: tool.launchUrl,
    login_hint: 'hint-1',
    lti_message_hint: 'message-1',
    state: /^state-/,
    nonce: /^[0-9a-f]{64}$/
  })
  t.match(reply.headers.get('set-cookie') ?? '', new RegExp(`lti1p3-${q.state}=${q.state}`), 'the state cookie')
})

t.test('a login from an unknown issuer is refused with PyLTI1p3\'s reason', async (t) => {
  const reply = await fetch(`${tool.loginUrl}?${new URLSearchParams({ iss: 'https://other.example', client_id: CLIENT_ID, login_hint: 'x', target_link_uri: tool.launchUrl }).toString()}`, { redirect: 'manual' })
  t.equal(reply.status, 400)
  t.match(await reply.json(), { refused: 'login', message: /iss https:\/\/other\.example not found/ })
})

t.test('a launch without a valid id_token is refused and recorded', async (t) => {
  const reply = await fetch(tool.launchUrl, { method: 'POST', body: new URLSearchParams({ id_token: 'not.a.jwt', state: 'state-x' }) })
  t.equal(reply.status, 400)
  const launches = await tool.launches()
  t.equal(launches.length, 1)
  t.match(launches[0]?.refused, { error: 'LtiException', message: /State not found|Invalid/ })
})
