import { generateKeyPairSync } from 'node:crypto'
import { createServer as createNetServer } from 'node:net'
import { createServer, type Store } from '@ltilaunch/service-kit'
import { memoryStoreForTest, redisStoreForTest } from '@ltilaunch/service-kit/testing'
import type { LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import type { Test } from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'
import { hashPassword } from '../src/lib/password.js'

/** One RSA key per test process: real keys, made once. */
export const TEST_SIGNING_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

export const TOOL = {
  clientId: 'test-tool',
  login: 'https://tool.example/login',
  redirect: 'https://tool.example/callback',
  target: 'https://tool.example/launch'
}

export const IMAGES = ['quay.io/jupyter/minimal-notebook:latest', 'quay.io/jupyter/scipy-notebook:latest']

export const TEST_TOOLS = {
  tools: [
    {
      client_id: TOOL.clientId,
      name: 'Test tool',
      deployment_ids: ['dep-1', 'dep-2'],
      initiate_login_uri: TOOL.login,
      target_link_uri: TOOL.target,
      redirect_uris: [TOOL.redirect, 'https://tool.example/other-callback'],
      custom: {
        fixed: 'value',
        uid: '$User.id',
        username: '$User.username',
        mail: '$Person.email.primary',
        full_name: '$Person.name.full',
        course_id: '$Context.id',
        course_title: '$Context.title',
        link: '$ResourceLink.id'
      },
      images: [{ value: IMAGES[0], label: 'Minimal', description: 'Python & JupyterLab, <nothing> more' }, IMAGES[1]]
    },
    {
      client_id: 'private-tool',
      name: 'Private tool',
      deployment_id: 'p-1',
      initiate_login_uri: 'https://private.example/login',
      target_link_uri: 'https://private.example/launch',
      redirect_uris: ['https://private.example/callback'],
      custom: { mail: '$Person.email.primary', full_name: '$Person.name.full', username: '$User.username', uid: '$User.id' },
      images: [IMAGES[0]],
      send_name: false,
      send_email: false
    },
    {
      client_id: 'post-tool',
      name: 'POST tool',
      deployment_ids: ['1'],
      initiate_login_uri: 'https://post.example/login',
      login_initiation_method: 'post',
      target_link_uri: 'https://post.example/launch',
      redirect_uris: ['https://post.example/callback']
    }
  ]
}

export const PASSWORDS: Record<string, string> = { ada: 'ada-test-pw', grace: 'grace-test-pw', alan: 'alan-test-pw' }

// Real scrypt hashes at a low cost (stored in the hash), so that sign-ins stay quick in tests.
const TEST_COST = { N: 1024, r: 8, p: 1 }

export const TEST_USERS = {
  courses: [
    { id: 'ds101', label: 'DS101', title: 'Data Science 101' },
    { id: 'ml201', label: 'ML201', title: 'Machine Learning 201' }
  ],
  users: [
    { username: 'ada', name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', email: 'ada@example.edu', password: await hashPassword(PASSWORDS.ada as string, TEST_COST), courses: { ds101: ['Learner'] } },
    {
      username: 'grace',
      name: 'Grace Hopper',
      given_name: 'Grace',
      family_name: 'Hopper',
      email: 'grace@example.edu',
      password: await hashPassword(PASSWORDS.grace as string, TEST_COST),
      roles: ['http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty'],
      courses: { ds101: ['Instructor'], ml201: ['Learner'] }
    },
    { username: 'alan', name: 'Alan Turing', email: 'alan@example.edu', password: await hashPassword(PASSWORDS.alan as string, TEST_COST), roles: ['http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator'], courses: { ds101: ['Administrator'] } }
  ]
}

export const API_KEY = 'test-launch-api-key-0123456789'
export const API_KEY_HASH = 'sha256:' + (await import('node:crypto')).createHash('sha256').update(API_KEY).digest('hex')

/** Settings every test starts from; a test overrides what it is about. */
export const TEST_ENV: Record<string, string> = {
  PORT: '0',
  LOG_LEVEL: 'silent',
  PUBLIC_URL: 'http://platform.test',
  PLATFORM_TOOLS: JSON.stringify(TEST_TOOLS),
  PLATFORM_USERS: JSON.stringify(TEST_USERS),
  PLATFORM_SIGNING_KEY: TEST_SIGNING_KEY,
  PLATFORM_SESSION_SECRET: 'test-session-secret-0123456789abcdef',
  PLATFORM_SUBJECT_SECRET: 'test-subject-secret-0123456789abcdef',
  PLATFORM_API_KEYS: API_KEY_HASH
}

export interface BuildOptions {
  env?: Record<string, string>
  /** 'redis' (the default: a real Redis under a fresh key prefix), 'memory', or a store to share. */
  store?: 'redis' | 'memory' | Store
  /** Where the service's log lines go (tests of what it logs); by default it logs nothing. */
  logStream?: Parameters<typeof createServer>[0]['logStream']
}

/** The app with test settings, ready for inject(); closed, and its Redis keys deleted, after the test. */
export async function build (t: Test, options: BuildOptions = {}) {
  const config = readConfig({ ...TEST_ENV, ...options.env })
  const store = typeof options.store === 'object'
    ? options.store
    : options.store === 'memory' ? memoryStoreForTest(t) : await redisStoreForTest(t, 'platform')
  if (store === undefined) throw new Error('these tests need Redis')
  const server = createServer({ service: 'platform', config, ...(options.logStream ? { logStream: options.logStream } : { logger: false }) })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => await server.close())
  return server
}

export type App = Awaited<ReturnType<typeof build>>

/** A free local port (for an app that must know its own URL before it listens). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createNetServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/* ------------------------------------------------------------ browser --- */

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" }
const unescape = (text: string): string => text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity)

export interface Form {
  action: string
  method: string
  fields: Record<string, string>
}

/** The first form of a page (the auto-submit pages have exactly one), as a browser would submit it. */
export function formOf (body: string, index = 0): Form {
  const forms = [...body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)]
  const form = forms[index]
  if (form === undefined) throw new Error(`no form in page: ${body.slice(0, 300)}`)
  const attrs = form[1] ?? ''
  const fields: Record<string, string> = {}
  for (const input of (form[2] ?? '').matchAll(/<input\b([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(input[1] ?? '')?.[1]
    const value = /value="([^"]*)"/.exec(input[1] ?? '')?.[1]
    if (name !== undefined && value !== undefined) fields[unescape(name)] = unescape(value)
  }
  return {
    action: unescape(/action="([^"]*)"/.exec(attrs)?.[1] ?? ''),
    method: (/method="([^"]*)"/.exec(attrs)?.[1] ?? 'get').toLowerCase(),
    fields
  }
}

/** A browser against an app through inject(): keeps cookies, does not follow redirects. */
export class Browser {
  readonly jar = new Map<string, string>()
  constructor (readonly app: App) {}

  get cookieHeader (): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  #keep (res: LightMyRequestResponse): LightMyRequestResponse {
    for (const cookie of res.cookies as Array<{ name: string, value: string, maxAge?: number, expires?: Date }>) {
      if (cookie.value === '' || cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() < Date.now())) this.jar.delete(cookie.name)
      else this.jar.set(cookie.name, cookie.value)
    }
    return res
  }

  async get (url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.#keep(await this.app.inject({ method: 'GET', url, headers: { accept: 'text/html', cookie: this.cookieHeader, ...headers } }))
  }

  async post (url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.#keep(await this.app.inject({
      method: 'POST',
      url,
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader, ...headers },
      payload: new URLSearchParams(form).toString()
    }))
  }
}

/** Signs a demo user in; fails the test when that does not work. */
export async function signIn (browser: Browser, username: string, password = PASSWORDS[username] ?? ''): Promise<void> {
  const page = await browser.get('/login')
  const form = formOf(page.body)
  const res = await browser.post('/login', { ...form.fields, username, password })
  if (res.statusCode !== 303) throw new Error(`sign-in of ${username} failed: ${res.statusCode} ${res.body.slice(0, 200)}`)
}

/** The csrf token of the launch page. */
export async function launchCsrf (browser: Browser): Promise<string> {
  const page = await browser.get('/')
  const csrf = formOf(page.body).fields.csrf
  if (csrf === undefined) throw new Error(`no launch form: ${page.statusCode} ${page.body.slice(0, 300)}`)
  return csrf
}

/** Presses Launch; returns the login initiation parameters the tool receives. */
export async function startLaunch (browser: Browser, choice: { client_id?: string, course?: string, image?: string } = {}): Promise<Record<string, string>> {
  const csrf = await launchCsrf(browser)
  const res = await browser.post('/launch', { csrf, client_id: TOOL.clientId, course: 'ds101', ...choice })
  if (res.statusCode !== 303) throw new Error(`launch failed: ${res.statusCode} ${res.body.slice(0, 300)}`)
  return Object.fromEntries(new URL(res.headers.location as string).searchParams)
}

/** What a well-behaved tool sends to the authorization endpoint after a login initiation. */
export function authParams (login: Record<string, string>, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const params: Record<string, string | undefined> = {
    scope: 'openid',
    response_type: 'id_token',
    response_mode: 'form_post',
    prompt: 'none',
    client_id: login.client_id,
    redirect_uri: TOOL.redirect,
    login_hint: login.login_hint,
    lti_message_hint: login.lti_message_hint,
    state: `state-${Math.random().toString(36).slice(2)}`,
    nonce: `nonce-${Math.random().toString(36).slice(2)}`,
    ...overrides
  }
  return Object.fromEntries(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined))
}

export async function authorizeGet (browser: Browser, params: Record<string, string>): Promise<LightMyRequestResponse> {
  return await browser.get(`/lti/authorize?${new URLSearchParams(params).toString()}`)
}
