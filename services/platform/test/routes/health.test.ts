import t from 'tap'
import { build } from '../helper.js'

t.test('/healthz answers while the process is up', async (t) => {
  const app = await build(t)
  const res = await app.inject('/healthz')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok', service: 'platform' })
})

t.test('/readyz checks the store', async (t) => {
  const app = await build(t)
  const res = await app.inject('/readyz')
  t.equal(res.statusCode, 200)
  t.equal(res.json().checks.store, 'ok')
})

t.test('an unknown route is a 404 with a PLATFORM code', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await app.inject('/no-such-page')
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'PLATFORM_NOT_FOUND')
})
