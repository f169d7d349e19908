import type { RedisStore } from '@ltilaunch/service-kit'
import t from 'tap'
import { build, buildWithDeadRedis, getLaunch, launchRequest, MINIMAL, postLaunch, PYTORCH, SCIPY, SERVICE_TOKEN } from '../helper.js'

t.test('a launch without the service token is refused before its body is read', async (t) => {
  const app = await build(t)
  const missing = await postLaunch(app, { not: 'even valid' }, { token: null })
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().code, 'BROKER_UNAUTHORIZED')
  const wrong = await postLaunch(app, launchRequest(), { token: `${SERVICE_TOKEN}x` })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'BROKER_UNAUTHORIZED')
  const prefix = await postLaunch(app, launchRequest(), { token: SERVICE_TOKEN.slice(0, -1) })
  t.equal(prefix.statusCode, 401)
  const basic = await app.inject({
    method: 'POST',
    url: '/v1/launches',
    headers: { authorization: `Basic ${SERVICE_TOKEN}`, 'idempotency-key': 'k' },
    payload: launchRequest()
  })
  t.equal(basic.statusCode, 401)
  const read = await app.inject({ method: 'GET', url: '/v1/launches/AAAAAAAAAAAAAAAAAAAAAAAA' })
  t.equal(read.statusCode, 401)
  t.equal(read.json().code, 'BROKER_UNAUTHORIZED')
})

t.test('an accepted launch is pending, with its image, server and URLs', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0', HUB_NAMED_SERVERS: 'true' } })
  const res = await postLaunch(app, launchRequest({ username: 'ada', image: 'scipy' }))
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.match(body, { status: 'pending', image: SCIPY, serverName: 'math101-' })
  t.match(body.id, /^[A-Za-z0-9_-]{24}$/)
  t.equal(body.progressUrl, `http://broker.test/launches/${body.id}`)
  t.equal(body.statusUrl, `http://broker.test/v1/launches/${body.id}`)

  const record = await getLaunch(app, body.id)
  t.equal(record.statusCode, 200)
  t.match(record.json(), { id: body.id, status: 'pending', username: 'ada', role: 'learner', image: SCIPY, course: { id: 'course-1', label: 'MATH101' } })
  t.ok(Date.parse(record.json().createdAt))
  t.equal(record.json().request, undefined, 'internal fields stay inside')
})

t.test('the same idempotency key returns the same launch; another body under it is a conflict', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const body = launchRequest()
  const first = await postLaunch(app, body, { key: 'launch-abc' })
  t.equal(first.statusCode, 201)
  // The same body with its keys in another order is the same request.
  const reordered = Object.fromEntries(Object.entries(body).reverse())
  const again = await postLaunch(app, reordered, { key: 'launch-abc' })
  t.equal(again.statusCode, 200)
  t.equal(again.json().id, first.json().id)
  const other = await postLaunch(app, { ...body, image: 'pytorch' }, { key: 'launch-abc' })
  t.equal(other.statusCode, 409)
  t.equal(other.json().code, 'BROKER_IDEMPOTENCY_CONFLICT')
  const fresh = await postLaunch(app, body, { key: 'launch-def' })
  t.equal(fresh.statusCode, 201)
  t.not(fresh.json().id, first.json().id)
})

t.test('concurrent requests with one key make one launch', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const body = launchRequest()
  const replies = await Promise.all(Array.from({ length: 8 }, async () => await postLaunch(app, body, { key: 'same' })))
  t.same(replies.map((r) => r.statusCode).sort(), [200, 200, 200, 200, 200, 200, 200, 201])
  t.equal(new Set(replies.map((r) => r.json().id)).size, 1)
  // The losers wrote a record under their own fresh id alongside the key; none of those is left.
  const store = app.store as RedisStore
  t.same(await store.redis.keys(`${store.prefix}launch:*`), [`${store.prefix}launch:${replies[0]?.json().id as string}`], 'one record')
})

t.test('the idempotency key is required and bounded', async (t) => {
  const app = await build(t, { store: 'memory' })
  const none = await app.inject({ method: 'POST', url: '/v1/launches', headers: { authorization: `Bearer ${SERVICE_TOKEN}` }, payload: launchRequest() })
  t.equal(none.statusCode, 400)
  t.equal(none.json().code, 'BROKER_INVALID_REQUEST')
  const long = await postLaunch(app, launchRequest(), { key: 'k'.repeat(201) })
  t.equal(long.statusCode, 400)
  t.equal(long.json().code, 'BROKER_INVALID_REQUEST')
})

t.test('the image policy: aliases, listed images, patterns, the default', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0', IMAGE_PATTERNS: 'quay\\.io/jupyter/[a-z-]+:2024-[0-9.]+' } })
  const cases: Array<[string | undefined, string]> = [
    ['pytorch', PYTORCH],
    [SCIPY, SCIPY],
    ['quay.io/jupyter/datascience-notebook:2024-10.1', 'quay.io/jupyter/datascience-notebook:2024-10.1'],
    [undefined, MINIMAL],
    ['', MINIMAL],
    ['   ', MINIMAL]
  ]
  for (const [image, expected] of cases) {
    const body = launchRequest(image === undefined ? {} : { image })
    const res = await postLaunch(app, body)
    t.equal(res.statusCode, 201, `image ${JSON.stringify(image)}`)
    t.equal(res.json().image, expected, `image ${JSON.stringify(image)} resolves to ${expected}`)
  }
})

t.test('a refused image is a 422 naming the image and what is allowed', async (t) => {
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0', IMAGE_PATTERNS: 'quay\\.io/jupyter/[a-z-]+:2024-[0-9.]+' } })
  for (const image of ['evil/miner:latest', 'quay.io/jupyter/scipy-notebook:2024-10.1; rm -rf', 'xquay.io/jupyter/base-notebook:2024-1', 'scipy ']) {
    const res = await postLaunch(app, launchRequest({ image }))
    if (image === 'scipy ') {
      t.equal(res.statusCode, 201, 'surrounding blanks are ignored')
      continue
    }
    t.equal(res.statusCode, 422, image)
    const body = res.json()
    t.equal(body.code, 'BROKER_IMAGE_NOT_ALLOWED')
    t.match(body.message, `"${image}"`)
    t.match(body.message, `scipy (${SCIPY})`)
    t.match(body.message, 'quay\\.io/jupyter/')
  }
  // Browsers get a page with the same words.
  const page = await app.inject({
    method: 'POST',
    url: '/v1/launches',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'idempotency-key': 'html', accept: 'text/html' },
    payload: launchRequest({ image: '<script>x</script>' })
  })
  t.equal(page.statusCode, 422)
  t.match(page.body, '&lt;script&gt;x&lt;/script&gt;')
  t.notMatch(page.body, '<script>x</script>')
})

t.test('role limits: learners choose from the list only, staff may use patterns and staff-only images', async (t) => {
  const app = await build(t, {
    env: {
      WORKER_CONCURRENCY: '0',
      IMAGE_PATTERNS: 'registry\\.example\\.org/.+',
      LEARNER_IMAGES: 'course',
      STAFF_ONLY_IMAGES: 'pytorch /quay\\.io/jupyter/r-notebook:.*/',
      ALLOWED_IMAGES: `minimal=${MINIMAL},scipy=${SCIPY},pytorch=${PYTORCH},quay.io/jupyter/r-notebook:latest`
    }
  })
  const learnerPattern = await postLaunch(app, launchRequest({ image: 'registry.example.org/course/nb:1' }))
  t.equal(learnerPattern.statusCode, 422)
  t.match(learnerPattern.json().message, 'only be chosen by staff')
  t.notMatch(learnerPattern.json().message, 'registry\\.example', 'learners are not told about staff patterns')

  const learnerStaffOnly = await postLaunch(app, launchRequest({ image: 'pytorch' }))
  t.equal(learnerStaffOnly.statusCode, 422)
  t.match(learnerStaffOnly.json().message, 'only be started by staff')
  t.notMatch(learnerStaffOnly.json().message, `pytorch (${PYTORCH})`)
  const learnerStaffRegex = await postLaunch(app, launchRequest({ image: 'quay.io/jupyter/r-notebook:latest' }))
  t.equal(learnerStaffRegex.statusCode, 422)

  const learnerListed = await postLaunch(app, launchRequest({ image: 'scipy' }))
  t.equal(learnerListed.statusCode, 201)

  for (const image of ['registry.example.org/course/nb:1', 'pytorch', 'quay.io/jupyter/r-notebook:latest']) {
    const staff = await postLaunch(app, launchRequest({ role: 'staff', image }))
    t.equal(staff.statusCode, 201, `staff may start ${image}`)
  }
})

t.test('schema errors are 400 with a BROKER code', async (t) => {
  const app = await build(t, { store: 'memory' })
  const bad: unknown[] = [
    { ...launchRequest(), role: 'superuser' },
    { ...launchRequest(), username: '' },
    { ...launchRequest(), extra: 'field' },
    (() => { const { platform: _p, ...rest } = launchRequest(); return rest })(),
    { ...launchRequest(), image: 'x'.repeat(513) }
  ]
  for (const body of bad) {
    const res = await postLaunch(app, body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'BROKER_INVALID_REQUEST')
  }
  const notJson = await app.inject({
    method: 'POST',
    url: '/v1/launches',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'idempotency-key': 'x', 'content-type': 'application/json' },
    payload: '{"username":'
  })
  t.equal(notJson.statusCode, 400)
})

t.test('an unknown or malformed launch id is a 404 or 400', async (t) => {
  const app = await build(t, { store: 'memory' })
  const unknown = await getLaunch(app, 'AAAAAAAAAAAAAAAAAAAAAAAA')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'BROKER_LAUNCH_NOT_FOUND')
  const malformed = await getLaunch(app, 'short')
  t.equal(malformed.statusCode, 400)
})

t.test('Redis down: intake answers 503 with Retry-After, and /readyz says so', async (t) => {
  const app = await buildWithDeadRedis(t)
  const res = await postLaunch(app, launchRequest())
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'BROKER_STORE_UNAVAILABLE')
  t.ok(res.headers['retry-after'])
  const status = await getLaunch(app, 'AAAAAAAAAAAAAAAAAAAAAAAA')
  t.equal(status.statusCode, 503)
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.not(ready.json().checks.queue, 'ok')
})
