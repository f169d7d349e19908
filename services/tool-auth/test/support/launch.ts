import type { BuildLaunchInput } from '@ltilaunch/claims'
import type { App } from '../helper.js'
import { TARGET, type TestPlatform } from './platform.js'

export interface StartedLogin {
  state: string
  nonce: string
  /** The lti13_state cookie value set by the login. */
  cookie: string
  authorize: URL
}

/** Runs login initiation and returns what the platform's authorize endpoint would receive. */
export async function login (app: App, platform: TestPlatform, params: Record<string, string> = {}): Promise<StartedLogin> {
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'hint-1', target_link_uri: TARGET, client_id: platform.clientId, ...params })
  const res = await app.inject({ method: 'GET', url: `/lti13/oauth_login?${query.toString()}` })
  if (res.statusCode !== 302) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  const authorize = new URL(res.headers.location as string)
  const cookie = res.cookies.find((c) => c.name === 'lti13_state')?.value ?? ''
  return { state: authorize.searchParams.get('state') ?? '', nonce: authorize.searchParams.get('nonce') ?? '', cookie, authorize }
}

export interface CallbackInput {
  id_token?: string
  state?: string
  /** The lti13_state cookie to send; undefined sends none. */
  cookie?: string
  extra?: Record<string, string>
  accept?: string
  sessionCookie?: string
}

export async function postCallback (app: App, input: CallbackInput, url = '/lti13/oauth_callback') {
  const form = new URLSearchParams(input.extra)
  if (input.id_token !== undefined) form.set('id_token', input.id_token)
  if (input.state !== undefined) form.set('state', input.state)
  const cookies: string[] = []
  if (input.cookie !== undefined) cookies.push(`lti13_state=${input.cookie}`)
  if (input.sessionCookie !== undefined) cookies.push(`ltilaunch_session=${input.sessionCookie}`)
  return await app.inject({
    method: 'POST',
    url,
    payload: form.toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: input.accept ?? 'application/json',
      ...(cookies.length > 0 ? { cookie: cookies.join('; ') } : {})
    }
  })
}

/** A login, then a token signed by the platform for it (with optional changes). */
export async function freshLaunch (app: App, platform: TestPlatform, options: { overrides?: Record<string, unknown>, lti?: Partial<BuildLaunchInput>, remove?: string[] } = {}) {
  const started = await login(app, platform)
  const claims = platform.claims(started.nonce, options.overrides, options.lti)
  for (const name of options.remove ?? []) Reflect.deleteProperty(claims, name)
  const idToken = await platform.sign(claims)
  return { ...started, claims, idToken }
}

/** A complete launch through the callback; returns the response and the session cookie it set. */
export async function launch (app: App, platform: TestPlatform, options: Parameters<typeof freshLaunch>[2] = {}) {
  const started = await freshLaunch(app, platform, options)
  const res = await postCallback(app, { id_token: started.idToken, state: started.state, cookie: started.cookie })
  const session = res.cookies.find((c) => c.name === 'ltilaunch_session')?.value
  return { ...started, res, session }
}
