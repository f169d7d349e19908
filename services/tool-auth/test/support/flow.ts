import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build, type App, type BuildOptions } from '../helper.js'
import { formOf, type Browser } from './browser.js'
import type { TestPlatform } from './platform.js'

/* The browser's and the hub's sides of a launch, over real HTTP, for the flow tests. */

export const HUB_SECRET = 'flow-hub-secret-0123456789abcdef'
export const HUB_CALLBACK = 'http://127.0.0.1:8000/hub/oauth_callback'

export function baseOf (app: App): string {
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

/**
 * tool-auth on 127.0.0.1 with these platforms in a PLATFORMS_FILE;
 * `settings` adds per-platform entries (username_prefix, admin_roles, ...), by index.
 */
export async function toolFor (t: Parameters<typeof build>[0], platforms: TestPlatform[], env: Record<string, string | undefined>, settings: Array<Record<string, unknown>> = [], options: Pick<BuildOptions, 'store'> = {}) {
  const dir = t.testdir()
  const file = join(dir, 'platforms.json')
  writeFileSync(file, JSON.stringify(platforms.map((p, i) => ({ issuer: p.issuer, client_ids: [p.clientId], authorize_url: `${p.issuer}/authorize`, jwks_endpoint: `${p.issuer}/jwks`, deployment_ids: [p.deploymentId], ...settings[i] }))))
  return await build(t, {
    ...options,
    listen: true,
    env: {
      // No PUBLIC_URL: URLs and the allowed host come from the request, as ltiauthenticator does.
      PUBLIC_URL: undefined,
      issuer: undefined,
      client_id: undefined,
      authorize_url: undefined,
      jwks_endpoint: undefined,
      PLATFORMS_FILE: file,
      HUB_CLIENT_SECRET: HUB_SECRET,
      HUB_REDIRECT_URI: HUB_CALLBACK,
      BROKER_SERVICE_TOKEN: 'test-broker-token-0123456789',
      ...env
    }
  })
}

/** The browser's side of an LTI launch: platform → login → authorize → form_post → callback. */
export async function browserLaunch (browser: Browser, tool: string, platform: TestPlatform) {
  const login = await browser.fetch(`${tool}/lti13/oauth_login`, { form: { iss: platform.issuer, login_hint: 'hint', target_link_uri: `${tool}/lti13/launch`, lti_message_hint: 'm1', client_id: platform.clientId, lti_deployment_id: platform.deploymentId } })
  if (login.status !== 302) throw new Error(`login: ${login.status} ${await login.text()}`)
  const authorizePage = await browser.fetch(login.headers.get('location') as string)
  const form = formOf(await authorizePage.text())
  return await browser.fetch(form.action, { form: form.fields })
}

/** The hub's side: GenericOAuthenticator's authorize redirect (PKCE S256), token and userinfo requests. */
export async function hubLogin (browser: Browser, tool: string, options: { basic?: boolean } = {}) {
  const verifier = randomBytes(48).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const state = randomBytes(12).toString('base64url')
  const query = new URLSearchParams({ response_type: 'code', client_id: 'jupyterhub', redirect_uri: HUB_CALLBACK, scope: 'openid', state, code_challenge: challenge, code_challenge_method: 'S256' })
  const authorize = await browser.fetch(`${tool}/oauth2/authorize?${query.toString()}`)
  if (authorize.status !== 302) return { authorize }
  const back = new URL(authorize.headers.get('location') as string)
  const code = back.searchParams.get('code') as string
  const form: Record<string, string> = { code, grant_type: 'authorization_code', redirect_uri: HUB_CALLBACK, data: 'None', code_verifier: verifier }
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'JupyterHub', 'content-type': 'application/x-www-form-urlencoded' }
  if (options.basic === false) Object.assign(form, { client_id: 'jupyterhub', client_secret: HUB_SECRET })
  else headers.authorization = `Basic ${Buffer.from(`jupyterhub:${HUB_SECRET}`).toString('base64')}`
  const tokenResponse = await fetch(`${tool}/oauth2/token`, { method: 'POST', headers, body: new URLSearchParams(form).toString() })
  const token = await tokenResponse.json() as Record<string, string>
  const userinfo = await fetch(`${tool}/oauth2/userinfo`, { headers: { accept: 'application/json', 'user-agent': 'JupyterHub', authorization: `${token.token_type} ${token.access_token}` } })
  return { authorize, back, state, tokenResponse, token, userinfo: await userinfo.json() as Record<string, any> }
}
