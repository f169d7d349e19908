import t from 'tap'
import { PlatformKeySet } from '../../src/plugins/jwks.js'
import { build } from '../helper.js'
import { launch } from '../support/launch.js'
import { signingKey, startPlatform } from '../support/platform.js'

// JWKS caching and rotation against a live local JWKS server that a test can rotate and break.

t.test('keys are fetched once and cached across launches', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  for (let i = 0; i < 3; i++) t.equal((await launch(app, platform)).res.statusCode, 303)
  t.equal(platform.jwksFetches, 1)
})

t.test('an unknown kid refetches once (rotation); junk kids within the cool-down do not refetch', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, JWKS_COOLDOWN: '0' }, store: 'memory' })
  t.equal((await launch(app, platform)).res.statusCode, 303)
  t.equal(platform.jwksFetches, 1)

  // The platform rotates: a new signing key, published alongside the old one.
  const next = await signingKey()
  platform.published = [next, platform.key]
  platform.key = next
  t.equal((await launch(app, platform)).res.statusCode, 303, 'a token with the new kid verifies')
  t.equal(platform.jwksFetches, 2, 'after exactly one refetch')
  t.equal((await launch(app, platform)).res.statusCode, 303)
  t.equal(platform.jwksFetches, 2, 'and the new key is cached')
})

t.test('the cool-down bounds refetches for unknown kids', async (t) => {
  const platform = await startPlatform(t)
  const set = new PlatformKeySet(`${platform.issuer}/jwks`, { maxAge: 600, cooldown: 30, timeout: 2000 })
  const stranger = await signingKey('unknown-kid')
  const token = await platform.sign({ a: 1 }, { key: stranger })
  const [header] = token.split('.')
  const parsed = JSON.parse(Buffer.from(header as string, 'base64url').toString())
  await set.getKey({ alg: 'RS256', kid: platform.key.kid }, { payload: '', signature: '' })
  t.equal(set.fetches, 1)
  for (let i = 0; i < 5; i++) {
    await t.rejects(set.getKey(parsed, { payload: '', signature: '' }), { code: 'ERR_JWKS_NO_MATCHING_KEY' })
  }
  t.equal(set.fetches, 1, 'no refetch within the cool-down, however many unknown kids arrive')
})

t.test('a failing refetch does not break launches whose key is cached', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: { ...platform.env, JWKS_MAX_AGE: '1', JWKS_COOLDOWN: '0' }, store: 'memory' })
  t.equal((await launch(app, platform)).res.statusCode, 303)
  platform.jwksMode = 'fail'
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const afterExpiry = await launch(app, platform)
  t.equal(afterExpiry.res.statusCode, 303, 'the stale set is refetched, fails, and the cached key still verifies')
  t.ok(platform.jwksFetches >= 2, 'a refetch was tried')

  // An unknown kid while the platform is down: 503, not a 500 and not "invalid".
  const other = await signingKey()
  platform.key = other
  const unknown = await launch(app, platform)
  t.equal(unknown.res.statusCode, 503)
  t.equal(unknown.res.json().code, 'TOOL_AUTH_JWKS_UNAVAILABLE')
  t.ok(unknown.res.headers['retry-after'])
})

t.test('a platform whose JWKS cannot be fetched at all gives a 503 with Retry-After', async (t) => {
  const platform = await startPlatform(t)
  platform.jwksMode = 'fail'
  const app = await build(t, { env: platform.env, store: 'memory' })
  const { res } = await launch(app, platform)
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'TOOL_AUTH_JWKS_UNAVAILABLE')
  t.ok(res.headers['retry-after'])
})

t.test('while the platform is down, unknown kids refetch at most once per cool-down', async (t) => {
  const platform = await startPlatform(t)
  const set = new PlatformKeySet(`${platform.issuer}/jwks`, { maxAge: 600, cooldown: 30, timeout: 2000 })
  await set.getKey({ alg: 'RS256', kid: platform.key.kid }, { payload: '', signature: '' })
  platform.jwksMode = 'fail'
  // The cool-down counts from the last attempt, failed or not.
  await t.rejects(set.getKey({ alg: 'RS256', kid: 'unknown-1' }, { payload: '', signature: '' }))
  t.equal(set.fetches, 1, 'within the cool-down of the first fetch: no refetch')
  // Make the cool-down pass, then fail a refetch: the next unknown kids within the new cool-down do not fetch.
  const coolNow = new PlatformKeySet(`${platform.issuer}/jwks`, { maxAge: 600, cooldown: 0.2, timeout: 2000 })
  platform.jwksMode = 'ok'
  await coolNow.getKey({ alg: 'RS256', kid: platform.key.kid }, { payload: '', signature: '' })
  platform.jwksMode = 'fail'
  await new Promise((resolve) => setTimeout(resolve, 250))
  await t.rejects(coolNow.getKey({ alg: 'RS256', kid: 'unknown-2' }, { payload: '', signature: '' }), { code: 'TOOL_AUTH_JWKS_UNAVAILABLE' })
  t.equal(coolNow.fetches, 2, 'one failed refetch')
  for (let i = 0; i < 5; i++) await t.rejects(coolNow.getKey({ alg: 'RS256', kid: `unknown-${i + 3}` }, { payload: '', signature: '' }))
  t.equal(coolNow.fetches, 2, 'no more within the cool-down after a failure')
  t.ok(await coolNow.getKey({ alg: 'RS256', kid: platform.key.kid }, { payload: '', signature: '' }), 'the cached key still works')
})

t.test('concurrent first uses share one fetch', async (t) => {
  const platform = await startPlatform(t)
  const set = new PlatformKeySet(`${platform.issuer}/jwks`, { maxAge: 600, cooldown: 30, timeout: 2000 })
  await Promise.all(Array.from({ length: 10 }, async () => await set.getKey({ alg: 'RS256', kid: platform.key.kid }, { payload: '', signature: '' })))
  t.equal(set.fetches, 1)
  t.equal(platform.jwksFetches, 1)
})
