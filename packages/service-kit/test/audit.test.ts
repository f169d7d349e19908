import { readFileSync } from 'node:fs'
import createError from '@fastify/error'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { auditEventProblems, isAuditEvent, type AuditEvent } from '../src/audit/event.js'
import { loadConfig, BaseConfigSchema } from '../src/config.js'
import serviceKit from '../src/plugins/service-kit.js'
import { createServer } from '../src/server.js'
import { RedisStore } from '../src/store/redis.js'
import { auditStreamEvents, logCapture, redisStoreForTest, testPrefix, testRedisUrl } from '../src/testing.js'
import { AUDIT_SCHEMA_FILE, auditSchemaText } from '../scripts/write-audit-schema.js'

const Refused = createError('KIT_LAUNCH_REFUSED', 'The launch is refused.', 403)

async function build (t: Test, env: Record<string, string>, store?: RedisStore) {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', ...env })
  const log = logCapture()
  const app = createServer({ service: 'tool-auth', config, logStream: log.stream })
  await app.register(serviceKit, { service: 'tool-auth', errorPrefix: 'KIT', config, ...(store ? { store } : {}) })
  app.post('/launch', { config: { audit: 'tool.launch' } }, async (request) => {
    const body = request.body as { refuse?: boolean, sub?: string }
    request.auditFacts({ actor: { issuer: 'https://lms.example.edu', sub: body.sub ?? 'u1' }, target: { client_id: 'c1' } })
    if (body.refuse === true) throw new Refused()
    request.audit({ type: 'tool.launch', outcome: 'success', actor: { issuer: 'https://lms.example.edu', sub: body.sub ?? 'u1', username: 'ada', role: 'learner' }, target: { client_id: 'c1', image: 'scipy' } })
    return { ok: true }
  })
  app.get('/page', { config: { audit: 'tool.launch' } }, async () => 'an intermediate page records nothing')
  t.teardown(() => app.close())
  return { app, log }
}

t.test('docs/audit-event.schema.json is the JSON Schema of the TypeBox schema (pnpm --filter @ltilaunch/service-kit audit-schema writes it)', async (t) => {
  t.equal(readFileSync(AUDIT_SCHEMA_FILE, 'utf8'), auditSchemaText())
})

t.test('an accepted and a refused launch each write one event that matches the schema, on stdout whatever LOG_LEVEL says, and in the stream', async (t) => {
  const store = await redisStoreForTest(t, 'audit')
  if (store === undefined) return
  const key = `${store.prefix}audit`
  const { app, log } = await build(t, { LOG_LEVEL: 'error', REDIS_URL: testRedisUrl(), AUDIT_STREAM: key }, store)

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const ok = await app.inject({ method: 'POST', url: '/launch', payload: { sub: 'u1' }, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': 'req-ok' } })
  t.equal(ok.statusCode, 200)
  const refused = await app.inject({ method: 'POST', url: '/launch', payload: { refuse: true, sub: 'u2' }, headers: { accept: 'text/html' } })
  t.equal(refused.statusCode, 403)
  t.equal((await app.inject('/page')).statusCode, 200)
  await app.audit.flush()

  const events = log.audit()
  t.equal(events.length, 2, 'one event per outcome, none for an intermediate page')
  for (const event of events) t.same(auditEventProblems(event), [], `${event.type} ${event.outcome} matches the schema`)
  t.ok(log.lines.every((line) => line.audit !== true || line.level === 30), 'audit lines are info lines')
  t.notOk(log.lines.some((line) => line.audit !== true && line.level === 30), 'LOG_LEVEL=error still silences other info lines')

  const [accepted, failed] = events as [AuditEvent, AuditEvent]
  t.match(accepted, {
    schema_version: 1,
    type: 'tool.launch',
    service: 'tool-auth',
    outcome: 'success',
    request_id: 'req-ok',
    trace_id: traceId,
    client_address: '127.0.0.1',
    actor: { issuer: 'https://lms.example.edu', sub: 'u1', username: 'ada', role: 'learner' },
    target: { client_id: 'c1', image: 'scipy' }
  })
  t.notOk('error_code' in accepted)
  t.match(failed, { type: 'tool.launch', outcome: 'failure', error_code: 'KIT_LAUNCH_REFUSED', actor: { issuer: 'https://lms.example.edu', sub: 'u2' }, target: { client_id: 'c1' } })
  t.notOk('trace_id' in failed, 'no trace id where the request carried none')

  const redis = new Redis(testRedisUrl())
  t.teardown(() => redis.quit())
  t.same(await auditStreamEvents(redis, key), events, 'the stream holds the same events')
})

t.test('the stream keeps about AUDIT_STREAM_MAXLEN events', async (t) => {
  const store = await redisStoreForTest(t, 'audit-maxlen')
  if (store === undefined) return
  const key = `${store.prefix}audit`
  const { app } = await build(t, { REDIS_URL: testRedisUrl(), AUDIT_STREAM: key, AUDIT_STREAM_MAXLEN: '50' }, store)
  for (let i = 0; i < 600; i++) app.audit.record({ type: 'broker.server', outcome: 'success', target: { username: `user${i}` } })
  await app.audit.flush()
  const redis = new Redis(testRedisUrl())
  t.teardown(() => redis.quit())
  // MAXLEN ~ trims whole stream nodes: at most one node's worth above the limit stays.
  const nodeSize = Number((await redis.config('GET', 'stream-node-max-entries') as string[])[1] ?? 100)
  const length = await redis.xlen(key)
  t.ok(length >= 50 && length <= 50 + nodeSize, `XLEN ${length} is about 50 (node size ${nodeSize})`)
  const newest = await auditStreamEvents(redis, key)
  t.equal(newest.at(-1)?.target?.username, 'user599', 'the newest events are the ones kept')
  t.equal(app.audit.counts.streamFailures, 0)
})

t.test('a stream that cannot be written does not fail the request: the event is on stdout, the failure logged and counted', async (t) => {
  // A Redis that is not there: port 1 refuses at once.
  const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  const store = new RedisStore(redis, { prefix: testPrefix('audit-down') })
  t.teardown(() => redis.disconnect())
  const { app, log } = await build(t, { REDIS_URL: 'redis://127.0.0.1:1', AUDIT_STREAM: 'ltilaunch-test:audit-down' }, store)
  const res = await app.inject({ method: 'POST', url: '/launch', payload: {} })
  t.equal(res.statusCode, 200)
  await app.audit.flush()
  t.equal(log.audit().length, 1)
  t.equal(app.audit.counts.streamFailures, 1)
  t.ok(log.lines.some((line) => line.level === 40 && line.msg === 'cannot add audit events to the stream (they are on stdout)'))
})

t.test('AUDIT_STREAM without Redis stops the start with a clear message', async (t) => {
  const config = loadConfig(BaseConfigSchema, { PORT: '0', AUDIT_STREAM: 'audit' })
  const app = createServer({ service: 'platform', config, logger: false })
  await t.rejects(async () => {
    await app.register(serviceKit, { service: 'platform', errorPrefix: 'KIT', config })
    await app.ready()
  }, /AUDIT_STREAM needs Redis/)
  await app.close()
})

t.test('an event with something the schema has no room for is counted as invalid (and still written)', async (t) => {
  const { app, log } = await build(t, {})
  app.audit.record({ type: 'tool.launch', outcome: 'success', target: { image: 'https://hub.example/launches/abc?ticket=secret' } })
  app.audit.record({ type: 'tool.launch', outcome: 'failure', error_code: 'not a code!' })
  t.equal(app.audit.counts.invalid, 2)
  t.equal(log.audit().length, 2)
  t.notOk(isAuditEvent(log.audit()[0]), 'a URL with a query is not an audit value')
  t.ok(log.lines.some((line) => line.level === 50 && line.msg === 'audit event does not match its schema'))
})

t.test('unknown event types and extra fields are not audit events', async (t) => {
  const base = { schema_version: 1, type: 'tool.launch', time: new Date().toISOString(), service: 'tool-auth', outcome: 'success' }
  t.ok(isAuditEvent(base))
  t.notOk(isAuditEvent({ ...base, type: 'tool.something_else' }))
  t.notOk(isAuditEvent({ ...base, id_token: 'x' }))
  t.notOk(isAuditEvent({ ...base, actor: { sub: 'u', token: 'x' } }))
  t.notOk(isAuditEvent({ ...base, outcome: 'maybe' }))
})
