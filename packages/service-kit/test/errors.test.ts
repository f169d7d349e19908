import t, { type Test } from 'tap'
import createError from '@fastify/error'
import Fastify from 'fastify'
import { Type } from 'typebox'
import errorsPlugin from '../src/plugins/errors.js'

const Refused = createError('KIT_THING_REFUSED', 'The thing %s is refused.', 422)
const Foreign = createError('OTHER_CODE', 'Not ours.', 409)

async function build (t: Test) {
  const app = Fastify()
  await app.register(errorsPlugin, { prefix: 'KIT' })
  app.get('/refused', async () => {
    const err = new Refused('X') as Error & { hint?: string }
    err.hint = 'Choose another thing.'
    throw err
  })
  app.get('/foreign', async () => { throw new Foreign() })
  app.get('/boom', async () => { throw new Error('database password is hunter2') })
  app.get('/unavailable', async () => { throw Object.assign(new Error('peer down'), { statusCode: 503 }) })
  app.post('/validated', {
    schema: { body: Type.Object({ id_token: Type.String() }) }
  }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  return app
}

t.test('a service error keeps its code and message, with the hint', async (t) => {
  const app = await build(t)
  const res = await app.inject('/refused')
  t.equal(res.statusCode, 422)
  t.same(res.json(), {
    statusCode: 422,
    code: 'KIT_THING_REFUSED',
    error: 'Unprocessable Entity',
    message: 'The thing X is refused.',
    hint: 'Choose another thing.'
  })
})

t.test('a 4xx with a foreign code gets a service-prefixed one', async (t) => {
  const app = await build(t)
  const res = await app.inject('/foreign')
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'KIT_CONFLICT')
})

t.test('validation errors are 400 with a stable code and say what is wrong', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/validated', payload: {} })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'KIT_INVALID_REQUEST')
  t.match(res.json().message, /id_token/)
})

t.test('a malformed body is a 400, not a 500', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/validated', headers: { 'content-type': 'application/json' }, payload: '{not json' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'KIT_BAD_REQUEST')
})

t.test('an unsupported body type is a 415', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/validated', headers: { 'content-type': 'text/csv' }, payload: 'a,b' })
  t.equal(res.statusCode, 415)
  t.equal(res.json().code, 'KIT_UNSUPPORTED_MEDIA_TYPE')
})

t.test('a 500 hides its internals', async (t) => {
  const app = await build(t)
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'KIT_INTERNAL')
  t.notMatch(res.body, /hunter2/)
  t.match(res.json().message, /request /)
})

t.test('a 503 carries Retry-After', async (t) => {
  const app = await build(t)
  const res = await app.inject('/unavailable')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
})

t.test('unknown routes are a 404 with a code', async (t) => {
  const app = await build(t)
  const res = await app.inject('/nowhere?x=1')
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'KIT_NOT_FOUND')
  t.match(res.json().message, 'GET /nowhere')
})

t.test('a browser gets a page that says what happened, escaped', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/refused', headers: { accept: 'text/html,application/xhtml+xml' } })
  t.equal(res.statusCode, 422)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, '<h1>Unprocessable Entity</h1>')
  t.match(res.body, 'The thing X is refused.')
  t.match(res.body, 'Choose another thing.')
  t.match(res.body, 'KIT_THING_REFUSED')
  const notFound = await app.inject({ url: '/<script>', headers: { accept: 'text/html' } })
  t.notMatch(notFound.body, '<script>')
})
