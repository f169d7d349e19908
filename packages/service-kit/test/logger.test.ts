import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { loggerOptions } from '../src/logger.js'

t.test('secrets never reach the log', async (t) => {
  const lines: string[] = []
  const sink = new Writable({
    write (chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    }
  })
  const log = pino(loggerOptions({ level: 'info', service: 'kit', pretty: false }), sink)
  log.info({
    req: { headers: { authorization: 'Bearer abc.def', cookie: 'sid=s3cret' } },
    res: { headers: { 'set-cookie': 'sid=s3cret' } },
    body: { id_token: 'eyJ.payload.sig', client_secret: 'cs-1', code: 'one-time', access_token: 'at-1', refresh_token: 'rt-1' },
    id_token: 'top.level.token'
  }, 'something happened')
  const out = lines.join('')
  for (const secret of ['abc.def', 's3cret', 'eyJ.payload.sig', 'cs-1', 'one-time', 'at-1', 'rt-1', 'top.level.token']) {
    t.notMatch(out, secret, `${secret} is redacted`)
  }
  t.match(out, '[redacted]')
  t.match(JSON.parse(lines[0] ?? '{}'), { service: 'kit', msg: 'something happened' })
})

t.test('pretty logs only when asked or on a terminal', async (t) => {
  t.ok(loggerOptions({ level: 'info', service: 'kit', pretty: true }).transport, 'pretty has a transport')
  t.notOk(loggerOptions({ level: 'info', service: 'kit', pretty: false }).transport)
})

t.test('request log lines leave out the query, and a masked path hides its capability', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { maskedPathLogSerializers } = await import('../src/logger.js')
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    }
  })
  const app = Fastify({ logger: { ...loggerOptions({ level: 'info', service: 'kit', pretty: false }), stream } })
  app.get('/login', async () => 'ok')
  app.get('/launches/:ticket', { logSerializers: maskedPathLogSerializers(/^\/launches\/[^/]+/, '/launches/[ticket]') }, async () => 'ok')
  t.teardown(() => app.close())
  await app.inject('/login?login_hint=secret-hint&state=secret-state')
  await app.inject('/launches/secret-ticket?x=1')
  const out = lines.join('')
  t.notMatch(out, 'secret-', 'no query value and no ticket in the log')
  t.match(out, '"url":"/login"')
  t.match(out, '"url":"/launches/[ticket]"')
})

t.test('a launch id is never logged: fields show a fingerprint, /launches/<id> paths are masked on every route', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { capabilityFingerprint } = await import('../src/logger.js')
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    }
  })
  const app = Fastify({ logger: { ...loggerOptions({ level: 'debug', service: 'kit', pretty: false }), stream } })
  // The services' 404 handler (Fastify's own would log the raw URL).
  await app.register((await import('../src/plugins/errors.js')).default, { prefix: 'KIT' })
  app.get('/v1/launches/:id', async (request) => {
    const { id } = request.params as { id: string }
    request.log.info({ launch: id, nested: { launchId: id, launch_id: id }, launchId: id }, 'launch looked at')
    return { id }
  })
  t.teardown(() => app.close())
  const id = 'L-capability-0123456789'
  await app.inject(`/v1/launches/${id}`)
  await app.inject(`/launches/${id}/nowhere`)
  const out = lines.join('')
  t.notMatch(out, 'capability-0123456789', 'the id is nowhere in the log')
  t.match(out, '"url":"/v1/launches/[id]"')
  t.match(out, '"url":"/launches/[id]/nowhere"', 'a 404 under /launches/ is masked too')
  const line = lines.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'launch looked at')
  t.equal(line?.launch, capabilityFingerprint(id), 'the same launch has the same fingerprint, to match lines up')
  t.equal(line?.launchId, capabilityFingerprint(id))
  t.equal(line?.nested?.launch_id, capabilityFingerprint(id))
  t.not(capabilityFingerprint(id), capabilityFingerprint('L-other'), 'different launches differ')
})
