import { setTimeout as sleep } from 'node:timers/promises'
import { LTI_CLAIM, ROLES } from '@ltilaunch/claims'
import { decodeJwt } from 'jose'
import t from 'tap'
import { API_KEY, authorizeGet, authParams, Browser, build, formOf, TOOL, type App } from '../helper.js'

const LAUNCH = {
  user: { id: 'learn-user-42', name: 'Katherine Johnson', email: 'kj@example.org', roles: ['Learner'] },
  client_id: TOOL.clientId,
  context: { id: 'course-v1:MITx+6.86x', label: '6.86x', title: 'Machine Learning with Python' },
  resource_link: { id: 'block-v1:abc', title: 'Notebook' },
  custom: { image: 'quay.io/jupyter/scipy-notebook:latest', extra: 'yes' },
  return_url: 'https://learn.example.org/course'
}

async function createLaunch (app: App, body: unknown = LAUNCH, key = API_KEY) {
  return await app.inject({ method: 'POST', url: '/api/v1/launches', headers: { authorization: `Bearer ${key}` }, payload: body as Record<string, unknown> })
}

t.test('a host site gets a one-time launch URL that signs the browser in for that launch and starts the OIDC flow', async (t) => {
  const app = await build(t)
  const res = await createLaunch(app)
  t.equal(res.statusCode, 201)
  const { launchUrl, expiresAt } = res.json()
  t.match(launchUrl, /^http:\/\/platform\.test\/launches\/[A-Za-z0-9_-]{40,}$/)
  const ttl = Date.parse(expiresAt) - Date.now()
  t.ok(ttl > 50_000 && ttl <= 60_000, 'expires after LAUNCH_URL_TTL (60 s)')

  const browser = new Browser(app)
  const go = await browser.get(new URL(launchUrl).pathname)
  t.equal(go.statusCode, 303)
  const login = Object.fromEntries(new URL(go.headers.location as string).searchParams)
  t.equal(login.client_id, TOOL.clientId)
  t.equal(login.lti_deployment_id, 'dep-1')
  const form = formOf((await authorizeGet(browser, authParams(login))).body)
  const claims = decodeJwt(form.fields.id_token as string)
  t.equal(claims.name, 'Katherine Johnson')
  t.equal(claims.email, 'kj@example.org')
  t.not(claims.sub, 'learn-user-42', 'sub is opaque')
  t.same(claims[LTI_CLAIM.roles], [ROLES.membership.Learner])
  t.match(claims[LTI_CLAIM.context], LAUNCH.context)
  t.match(claims[LTI_CLAIM.resourceLink], LAUNCH.resource_link)
  t.match(claims[LTI_CLAIM.custom], { image: LAUNCH.custom.image, extra: 'yes', course_name: 'Machine Learning with Python', course_id: LAUNCH.context.id })
  t.equal((claims[LTI_CLAIM.launchPresentation] as { return_url: string }).return_url, LAUNCH.return_url)

  // The launch-only sign-in cannot use the demo launch page.
  const page = await browser.get('/')
  t.equal(page.statusCode, 303)
  t.equal(page.headers.location, '/login')
})

t.test('the same host user gets the same sub on every launch', async (t) => {
  const app = await build(t)
  const subs = []
  for (let i = 0; i < 2; i++) {
    const browser = new Browser(app)
    const go = await browser.get(new URL(createLaunchUrl(await createLaunch(app))).pathname)
    subs.push(new URL(go.headers.location as string).searchParams.get('login_hint'))
  }
  t.equal(subs[0], subs[1])
})

function createLaunchUrl (res: Awaited<ReturnType<typeof createLaunch>>): string {
  return res.json().launchUrl
}

t.test('a wrong, missing or malformed API key is a 401 with a code', async (t) => {
  const app = await build(t, { store: 'memory' })
  for (const authorization of [`Bearer ${API_KEY}x`, `Bearer ${API_KEY.slice(0, -1)}`, 'Bearer ', `Basic ${API_KEY}`, API_KEY, undefined]) {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
    const res = await app.inject({ method: 'POST', url: '/api/v1/launches', headers, payload: LAUNCH })
    t.equal(res.statusCode, 401, String(authorization))
    t.equal(res.json().code, 'PLATFORM_UNAUTHORIZED')
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
})

t.test('keys are configured as hashes: the hash itself is not a key', async (t) => {
  const app = await build(t, { store: 'memory' })
  const hash = app.config.PLATFORM_API_KEYS as string
  t.equal((await createLaunch(app, LAUNCH, hash)).statusCode, 401)
  t.equal((await createLaunch(app, LAUNCH, hash.slice('sha256:'.length))).statusCode, 401)
})

t.test('the key is checked against every configured hash (rotation: old and new both work)', async (t) => {
  const { createHash } = await import('node:crypto')
  const second = 'another-api-key-abcdef0123456789'
  const app = await build(t, {
    store: 'memory',
    env: { PLATFORM_API_KEYS: `sha256:${'0'.repeat(64)},\nsha256:${createHash('sha256').update(second).digest('hex')} ${'sha256:' + createHash('sha256').update(API_KEY).digest('hex')}` }
  })
  t.equal((await createLaunch(app, LAUNCH, second)).statusCode, 201)
  t.equal((await createLaunch(app, LAUNCH, API_KEY)).statusCode, 201)
})

t.test('a one-time launch URL used twice is refused', async (t) => {
  const app = await build(t)
  const path = new URL(createLaunchUrl(await createLaunch(app))).pathname
  t.equal((await new Browser(app).get(path)).statusCode, 303)
  const again = await new Browser(app).get(path, { accept: 'application/json' })
  t.equal(again.statusCode, 410)
  t.equal(again.json().code, 'PLATFORM_LAUNCH_LINK_INVALID')
})

t.test('a one-time launch URL that has expired is refused', async (t) => {
  const app = await build(t, { env: { LAUNCH_URL_TTL: '10' } })
  const path = new URL(createLaunchUrl(await createLaunch(app))).pathname
  const redis = app.store as unknown as { redis: { pexpire: (key: string, ms: number) => Promise<number> }, prefix: string }
  // Let the store expire it (rather than waiting 10 s): the TTL is the store's, not ours.
  t.equal(await redis.redis.pexpire(`${redis.prefix}ticket:${path.split('/').pop() as string}`, 1), 1)
  await sleep(20)
  const res = await new Browser(app).get(path, { accept: 'application/json' })
  t.equal(res.statusCode, 410)
  t.equal(res.json().code, 'PLATFORM_LAUNCH_LINK_INVALID')
})

t.test('a made-up ticket is refused', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await new Browser(app).get('/launches/this-ticket-was-never-issued-by-us', { accept: 'application/json' })
  t.equal(res.statusCode, 410)
})

t.test('bad launch requests are 4xx with a code, never 500', async (t) => {
  const app = await build(t, { store: 'memory' })
  const cases: Array<[unknown, number, string]> = [
    [{ ...LAUNCH, client_id: 'nope' }, 404, 'PLATFORM_UNKNOWN_TOOL'],
    [{ ...LAUNCH, deployment_id: 'dep-9' }, 422, 'PLATFORM_UNKNOWN_DEPLOYMENT'],
    [{ ...LAUNCH, user: { ...LAUNCH.user, id: '' } }, 400, 'PLATFORM_INVALID_REQUEST'],
    [{ ...LAUNCH, resource_link: undefined }, 400, 'PLATFORM_INVALID_REQUEST'],
    [{ ...LAUNCH, surprise: 1 }, 400, 'PLATFORM_INVALID_REQUEST'],
    [{ ...LAUNCH, resource_link: { id: '   ' } }, 422, 'PLATFORM_LAUNCH_INVALID'],
    [{ ...LAUNCH, context: { id: ' ' } }, 422, 'PLATFORM_LAUNCH_INVALID']
  ]
  for (const [body, status, code] of cases) {
    const res = await createLaunch(app, body)
    t.equal(res.statusCode, status, code)
    t.equal(res.json().code, code)
  }
  const broken = await app.inject({
    method: 'POST',
    url: '/api/v1/launches',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    payload: '{"user": '
  })
  t.equal(broken.statusCode, 400)
  t.match(broken.json().code, /^PLATFORM_/)
  const text = await createLaunch(app, 'plain text')
  t.equal(text.statusCode, 415)
})

t.test('the second deployment can be chosen', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await createLaunch(app, { ...LAUNCH, deployment_id: 'dep-2' })
  const go = await new Browser(app).get(new URL(res.json().launchUrl).pathname)
  t.equal(new URL(go.headers.location as string).searchParams.get('lti_deployment_id'), 'dep-2')
})

t.test('without configured keys the API says how to configure one', async (t) => {
  const app = await build(t, { store: 'memory', env: { PLATFORM_API_KEYS: '' } })
  const res = await createLaunch(app)
  t.equal(res.statusCode, 401)
  t.match(res.json().hint, /PLATFORM_API_KEYS/)
})

t.test('racing one launch URL: exactly one browser is signed in with it', async (t) => {
  const app = await build(t)
  const path = new URL(createLaunchUrl(await createLaunch(app))).pathname
  const codes = await Promise.all(Array.from({ length: 8 }, async () => (await new Browser(app).get(path)).statusCode))
  t.same(codes.filter((code) => code === 303).length, 1)
  t.same(codes.filter((code) => code === 410).length, 7)
})
