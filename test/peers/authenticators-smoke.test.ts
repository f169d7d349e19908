/**
 * The pinned authenticators load in the pinned JupyterHub and start their
 * flows: oauthenticator's GenericOAuthenticator (settings only, as the
 * scenarios configure it for tool-auth's OAuth2 server) and
 * jupyterhub-ltiauthenticator's LTI13Authenticator (as the seed's own setup
 * uses it). The full flows need our services and come in the scenarios.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { freePort } from '../harness/processes.js'

/** GET without following redirects; the Location resolved. */
async function peek (url: string, init: RequestInit = {}): Promise<{ status: number, location?: URL, body: string }> {
  const reply = await fetch(url, { ...init, redirect: 'manual' })
  const location = reply.headers.get('location')
  return { status: reply.status, ...(location ? { location: new URL(location, url) } : {}), body: await reply.text() }
}

t.test('GenericOAuthenticator and LTI13Authenticator start their flows in the pinned hub', async (t) => {
  const started = Date.now()
  const [oauthPort, ltiPort] = [await freePort(), await freePort()]
  // Nothing listens here: only the redirects towards them are checked.
  const toolAuth = 'http://127.0.0.1:9'
  const platform = 'http://127.0.0.1:9'
  const [oauthHub, ltiHub] = await Promise.all([
    startJupyterHub(t, {
      name: 'hub-generic-oauth',
      port: oauthPort,
      env: { JUPYTERHUB_CRYPT_KEY: randomBytes(32).toString('hex') },
      config: `
c.JupyterHub.authenticator_class = 'generic-oauth'
c.GenericOAuthenticator.client_id = 'jupyterhub'
c.GenericOAuthenticator.client_secret = 'not-a-secret'
c.GenericOAuthenticator.oauth_callback_url = 'http://127.0.0.1:${oauthPort}/hub/oauth_callback'
c.GenericOAuthenticator.authorize_url = '${toolAuth}/oauth2/authorize'
c.GenericOAuthenticator.token_url = '${toolAuth}/oauth2/token'
c.GenericOAuthenticator.userdata_url = '${toolAuth}/oauth2/userinfo'
c.GenericOAuthenticator.scope = ['openid', 'profile']
c.GenericOAuthenticator.username_claim = 'username'
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = 'oauth_user.groups'
c.GenericOAuthenticator.admin_groups = ['staff']
c.GenericOAuthenticator.allow_all = True
c.GenericOAuthenticator.enable_auth_state = True
c.Authenticator.auto_login = True
`
    }),
    startJupyterHub(t, {
      name: 'hub-lti13',
      port: ltiPort,
      config: `
c.JupyterHub.authenticator_class = 'ltiauthenticator.lti13.auth.LTI13Authenticator'
c.LTI13Authenticator.issuer = '${platform}'
c.LTI13Authenticator.client_id = ['hub-client']
c.LTI13Authenticator.authorize_url = '${platform}/lti/authorize'
c.LTI13Authenticator.jwks_endpoint = '${platform}/.well-known/jwks.json'
c.LTI13Authenticator.username_key = 'email'
c.LTI13Authenticator.uri_scheme = 'http'
c.Authenticator.allow_all = True
`
    })
  ])
  t.comment(`two hubs ready in ${Date.now() - started} ms`)

  // GenericOAuthenticator with auto_login: /hub/login goes straight to tool-auth's authorize URL.
  const login = await peek(`${oauthHub.url}/hub/login?next=%2Fhub%2Fhome`)
  t.equal(login.status, 302)
  t.equal(login.location?.pathname, '/hub/oauth_login', 'auto_login skips the login page')
  const oauth = await peek(login.location?.toString() ?? '')
  t.equal(oauth.status, 302)
  t.equal(`${oauth.location?.origin}${oauth.location?.pathname}`, `${toolAuth}/oauth2/authorize`)
  t.match(Object.fromEntries(oauth.location?.searchParams ?? []), {
    response_type: 'code',
    client_id: 'jupyterhub',
    redirect_uri: `http://127.0.0.1:${oauthPort}/hub/oauth_callback`,
    scope: 'openid profile',
    state: /.+/
  })

  // LTI13Authenticator: its config JSON, and the OIDC login initiation towards the platform.
  const config = await peek(`${ltiHub.url}/hub/lti13/config`)
  t.equal(config.status, 200)
  t.match(JSON.parse(config.body), {
    title: 'JupyterHub',
    target_link_uri: `http://127.0.0.1:${ltiPort}`,
    oidc_initiation_url: `http://127.0.0.1:${ltiPort}/hub/lti13/oauth_login`
  }, 'the config says where to initiate the login')
  const initiation = await peek(`${ltiHub.url}/hub/lti13/oauth_login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      iss: platform,
      login_hint: 'ada',
      target_link_uri: `http://127.0.0.1:${ltiPort}/hub/lti13/oauth_login`,
      client_id: 'hub-client',
      lti_message_hint: 'hint-1'
    }).toString()
  })
  t.equal(initiation.status, 302, initiation.body.slice(0, 300))
  t.equal(`${initiation.location?.origin}${initiation.location?.pathname}`, `${platform}/lti/authorize`)
  t.match(Object.fromEntries(initiation.location?.searchParams ?? []), {
    scope: 'openid',
    response_type: 'id_token',
    response_mode: 'form_post',
    prompt: 'none',
    client_id: 'hub-client',
    login_hint: 'ada',
    lti_message_hint: 'hint-1',
    redirect_uri: `http://127.0.0.1:${ltiPort}/hub/lti13/oauth_callback`,
    state: /.+/,
    nonce: /.+/
  })
  // ltiauthenticator checks only that iss, login_hint and target_link_uri are
  // there; the issuer itself is checked when the id_token comes back.
  const missing = await peek(`${ltiHub.url}/hub/lti13/oauth_login?iss=${encodeURIComponent(platform)}&target_link_uri=x`)
  t.equal(missing.status, 400, 'a login initiation without login_hint is refused')
  t.comment(`authenticators smoke test ${Date.now() - started} ms`)
})
