import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import fp from 'fastify-plugin'
import { Type } from 'typebox'
import { BaseConfigSchema, ConfigError, loadConfig } from '../src/config.js'
import { autoSubmitPage, page, html } from '../src/html.js'
import serviceKit from '../src/plugins/service-kit.js'
import { createServer } from '../src/server.js'
import { errorReplyProblems, memoryStoreForTest } from '../src/testing.js'

async function build (t: Test, env: Record<string, string> = {}, kit: { frameAncestors?: string } = {}) {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', ...env })
  const app = createServer({ service: 'kit-test', config, logger: false })
  await app.register(fp(async (fastify) => {
    await fastify.register(serviceKit, { service: 'kit-test', errorPrefix: 'KIT', config, store: memoryStoreForTest(t), ...kit })
    fastify.get('/json', async () => ({ ok: true }))
    fastify.get('/page', async (_request, reply) => await reply.type('text/html; charset=utf-8').send(page({ title: 'A page', body: html`<p>hello</p>` })))
    fastify.get('/post', async (_request, reply) => await reply.type('text/html; charset=utf-8').send(autoSubmitPage({ title: 'Going on', action: 'https://elsewhere.example/launch', fields: { id_token: 'x' } })))
    fastify.get('/gone', async (_request, reply) => await reply.code(410).type('text/html; charset=utf-8').send(page({ title: 'Gone', body: html`<p>used</p>` })))
    fastify.get('/away', async (_request, reply) => await reply.redirect('/json', 303))
    fastify.get('/items/:id', async () => ({ ok: true }))
    // A route whose own 400 reply has another shape, as OAuth endpoints do.
    fastify.post('/token', { schema: { response: { 400: Type.Object({ error: Type.String(), error_description: Type.String() }) } } }, async () => ({ ok: true }))
  }))
  await app.ready()
  t.teardown(async () => await app.close())
  return app
}

function sha256 (text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`
}

t.test('every reply carries nosniff and a referrer policy: JSON, 404, error pages, 410 pages, redirects', async (t) => {
  const app = await build(t)
  const replies = [
    await app.inject('/json'),
    await app.inject('/nowhere'),
    await app.inject({ url: '/nowhere', headers: { accept: 'text/html' } }),
    await app.inject('/gone'),
    await app.inject('/away'),
    await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/json' }, payload: '{"a":' })
  ]
  for (const res of replies) {
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${res.statusCode} nosniff`)
    t.equal(res.headers['referrer-policy'], 'same-origin', `${res.statusCode} referrer policy`)
    t.ok(res.headers['content-security-policy'], `${res.statusCode} has a CSP`)
  }
  t.equal(replies[3]?.statusCode, 410)
  t.match(replies[3]?.headers['content-security-policy'], /default-src 'none'/)
})

t.test('an HTML page gets a CSP with the hashes of exactly its inline blocks', async (t) => {
  const app = await build(t)
  const res = await app.inject('/post')
  const csp = String(res.headers['content-security-policy'])
  const script = /<script>([\s\S]*?)<\/script>/.exec(res.body)?.[1] ?? ''
  const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)?.[1] ?? ''
  t.ok(script.length > 0 && style.length > 0, 'the auto-submit page has an inline script and style')
  const directives = Object.fromEntries(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]))
  t.equal(directives['script-src'], sha256(script))
  t.equal(directives['style-src'], sha256(style))
  t.equal(directives['default-src'], "'none'")
  t.equal(directives['base-uri'], "'none'")
  t.equal(directives['object-src'], "'none'")
  t.equal(directives['img-src'], "'self' data:")
  t.notOk('form-action' in directives, 'form-action is open: pages post to platforms and tools')
  t.notOk('frame-ancestors' in directives, 'by default anyone may frame (LMSs frame tool pages)')
  t.notOk(res.headers['x-frame-options'])
  t.notMatch(csp, 'unsafe-inline')

  const plain = await app.inject('/page')
  t.match(String(plain.headers['content-security-policy']), "script-src 'none'", 'a page without scripts allows none')
})

t.test('framing: a service default of self sends frame-ancestors and SAMEORIGIN; FRAME_ANCESTORS overrides it', async (t) => {
  const own = await build(t, {}, { frameAncestors: 'self' })
  const res = await own.inject('/page')
  t.match(String(res.headers['content-security-policy']), "frame-ancestors 'self'")
  t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')

  const host = await build(t, { FRAME_ANCESTORS: "'self' https://learn.example.edu" }, { frameAncestors: 'self' })
  const hosted = await host.inject('/page')
  t.match(String(hosted.headers['content-security-policy']), "frame-ancestors 'self' https://learn.example.edu")
  t.notOk(hosted.headers['x-frame-options'], 'X-Frame-Options cannot name another origin, so it is left out')

  const none = await build(t, { FRAME_ANCESTORS: 'none' })
  t.equal((await none.inject('/page')).headers['x-frame-options'], 'DENY')

  const anyone = await build(t, { FRAME_ANCESTORS: '*' }, { frameAncestors: 'self' })
  t.notMatch(String((await anyone.inject('/page')).headers['content-security-policy']), 'frame-ancestors')

  t.throws(() => loadConfig(BaseConfigSchema, { PORT: '0', FRAME_ANCESTORS: 'javascript:alert(1)' }), ConfigError)
})

t.test('413, 414, 415 and 404 are in the kit shape with a prefixed code', async (t) => {
  const app = await build(t)
  const cases = [
    { status: 413, code: 'KIT_BODY_TOO_LARGE', res: await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(1024 * 1024)}"` }) },
    { status: 414, code: 'KIT_URI_TOO_LONG', res: await app.inject(`/items/${'a'.repeat(200)}`) },
    { status: 415, code: 'KIT_UNSUPPORTED_MEDIA_TYPE', res: await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'text/plain' }, payload: 'x' }) },
    { status: 415, code: 'KIT_UNSUPPORTED_CHARSET', res: await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/json; charset=utf-16' }, payload: '{}' }) },
    { status: 400, code: 'KIT_BAD_REQUEST', res: await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/json' }, payload: '{"a":' }) },
    { status: 404, code: 'KIT_NOT_FOUND', res: await app.inject({ method: 'GET', url: '/nowhere' }) },
    { status: 405, code: 'KIT_METHOD_NOT_ALLOWED', res: await app.inject({ method: 'DELETE', url: '/items/7' }) }
  ]
  for (const { status, code, res } of cases) {
    t.equal(res.statusCode, status, code)
    t.equal(res.json().code, code)
    t.same(errorReplyProblems(res, 'KIT'), [], `${code} is well formed`)
  }
  t.equal(cases[6]?.res.headers.allow, 'GET, HEAD', 'a 405 names the methods the path takes')
})

/** Writes raw bytes to a listening app and reads until the server closes or `ms` pass. */
async function rawExchange (port: number, request: string, ms: number): Promise<{ reply: string, closedAfter: number }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const started = Date.now()
  let reply = ''
  socket.on('data', (chunk) => { reply += String(chunk) })
  socket.write(request)
  const closed = once(socket, 'close')
  const timer = setTimeout(() => socket.destroy(), ms)
  await closed
  clearTimeout(timer)
  return { reply, closedAfter: Date.now() - started }
}

async function listening (t: Test, env: Record<string, string> = {}): Promise<number> {
  const app = await build(t, env)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as { port: number }).port
}

function replyJson (reply: string): Record<string, unknown> {
  return JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>
}

t.test('a body shorter than its Content-Length gets a 408 and a closed connection within the request timeout', async (t) => {
  const port = await listening(t, { REQUEST_TIMEOUT_MS: '600', HEADERS_TIMEOUT_MS: '300' })
  const { reply, closedAfter } = await rawExchange(port,
    'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":', 10_000)
  t.ok(closedAfter < 3000, `closed after ${closedAfter} ms`)
  t.match(reply, /^HTTP\/1\.1 408 /)
  t.match(reply, /x-content-type-options: nosniff/i)
  t.match(replyJson(reply), { statusCode: 408, code: 'KIT_REQUEST_TIMEOUT', error: 'Request Timeout' })
})

t.test('headers sent a byte at a time are cut off at the headers timeout', async (t) => {
  const port = await listening(t, { REQUEST_TIMEOUT_MS: '5000', HEADERS_TIMEOUT_MS: '400' })
  const { reply, closedAfter } = await rawExchange(port, 'GET /json HTTP/1.1\r\nHost: x\r\nX-Slow: a', 10_000)
  t.ok(closedAfter < 3000, `closed after ${closedAfter} ms`)
  t.match(reply, /^HTTP\/1\.1 408 /)
})

t.test('headers larger than Node accepts get a 431 in the kit shape', async (t) => {
  const port = await listening(t)
  const { reply } = await rawExchange(port, `GET /json HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 5000)
  t.match(reply, /^HTTP\/1\.1 431 /)
  t.match(replyJson(reply), { statusCode: 431, code: 'KIT_HEADERS_TOO_LARGE', error: 'Request Header Fields Too Large' })
})

t.test('timeouts come from the settings, with sane defaults, and a headers timeout over the request timeout is refused', async (t) => {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', LOG_LEVEL: 'silent' })
  t.match(config, { REQUEST_TIMEOUT_MS: 30000, HEADERS_TIMEOUT_MS: 10000, KEEP_ALIVE_TIMEOUT_MS: 72000 })
  const app = createServer({ service: 'kit-test', config, logger: false })
  t.teardown(async () => await app.close())
  t.equal(app.server.requestTimeout, 30000)
  t.equal(app.server.headersTimeout, 10000)
  t.equal(app.server.keepAliveTimeout, 72000)
  const bad = loadConfig(BaseConfigSchema, { PORT: '0', REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '2000' })
  t.throws(() => createServer({ service: 'kit-test', config: bad, logger: false }), ConfigError)
})

t.test('a route adds what only it needs to the CSP by setting its own before replying', async (t) => {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', LOG_LEVEL: 'silent' })
  const app = createServer({ service: 'kit-test', config, logger: false })
  await app.register(fp(async (fastify) => {
    await fastify.register(serviceKit, { service: 'kit-test', errorPrefix: 'KIT', config, store: memoryStoreForTest(t), frameAncestors: 'self' })
    fastify.get('/frames-a-tool', async (_request, reply) => {
      reply.header('content-security-policy', "frame-src https://tool.example; script-src https://cdn.example; frame-ancestors 'none'")
      reply.header('x-frame-options', 'DENY')
      return await reply.type('text/html; charset=utf-8').send(autoSubmitPage({ title: 'Framing', action: '/x', fields: {} }))
    })
  }))
  t.teardown(async () => await app.close())
  const res = await app.inject('/frames-a-tool')
  const csp = String(res.headers['content-security-policy'])
  const script = /<script>([\s\S]*?)<\/script>/.exec(res.body)?.[1] ?? ''
  t.match(csp, 'frame-src https://tool.example')
  t.match(csp, `script-src ${sha256(script)} https://cdn.example`, 'its sources join the hashes')
  t.match(csp, /(^|; )frame-ancestors 'none'(;|$)/, 'its framing replaces the service default')
  t.notMatch(csp, "frame-ancestors 'self'")
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.match(csp, /^default-src 'none'; /)
})
