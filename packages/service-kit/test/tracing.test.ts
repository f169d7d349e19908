import { Writable } from 'node:stream'
import { SpanKind, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import pino from 'pino'
import t from 'tap'
import { loggerOptions } from '../src/logger.js'
import { currentTraceparent, inSpan, markTracingStarted, stopTracing, traceLogFields, tracingEnabled } from '../src/tracing/context.js'
import { redactedAttribute, redactText, redactUrl } from '../src/tracing/redact.js'
import { RedactingSpanProcessor } from '../src/tracing/sdk.js'
import { tracingSettings } from '../src/tracing/settings.js'

t.test('tracing stays off without an OTLP endpoint, and starts with either one', async (t) => {
  t.equal(tracingSettings('tool-auth', {}), undefined, 'nothing set: off')
  t.equal(tracingSettings('tool-auth', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }), undefined, 'a blank endpoint: off')
  t.equal(tracingSettings('tool-auth', { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), undefined, 'other variables alone: off')
  t.same(tracingSettings('tool-auth', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), { serviceName: 'tool-auth', protocol: 'http/protobuf' })
  t.same(tracingSettings('platform', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
    { serviceName: 'platform', protocol: 'http/json' })
  t.same(tracingSettings('platform', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }),
    { serviceName: 'platform', protocol: 'http/protobuf' }, 'the traces protocol wins')
  t.equal(tracingSettings('platform', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SERVICE_NAME: 'lms-east' })?.serviceName, 'lms-east')
  t.equal(tracingSettings('platform', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SDK_DISABLED: 'true' }), undefined, 'disabled')
  t.equal(tracingSettings('platform', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none' }), undefined, 'no trace exporter')
  t.equal(tracingSettings('platform', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), undefined,
    'grpc is not built in: the config check refuses it by name')
})

t.test('a URL in a span loses its query and its capability segments', async (t) => {
  t.equal(redactUrl('/launches/Zq3xLaunchId?x=1'), '/launches/[id]')
  t.equal(redactUrl('http://broker:3002/v1/launches/Zq3xLaunchId/events#top'), 'http://broker:3002/v1/launches/[id]/events')
  t.equal(redactUrl('/lti13/resume/one-time-ticket'), '/lti13/resume/[id]')
  t.equal(redactUrl('/oauth2/authorize?code=c0de&state=st4te'), '/oauth2/authorize')
  t.equal(redactUrl('/launches/:id'), '/launches/:id', 'a route template stays')
  t.equal(redactText('GET /launches/abc123'), 'GET /launches/[id]')
  t.equal(redactText('connect ECONNREFUSED http://tool/lti13/login?login_hint=u1&lti_message_hint=h1 (after 3 tries)'),
    'connect ECONNREFUSED http://tool/lti13/login (after 3 tries)')
  t.equal(redactText('Why?'), 'Why?', 'a question mark in prose stays')
  t.equal(redactedAttribute('url.query', 'code=c0de'), '[redacted]')
  t.equal(redactedAttribute('url.path', '/v1/launches'), undefined, 'a safe value is left alone')
  t.equal(redactedAttribute('http.response.status_code', 200), undefined)
})

// One provider for the tests below, as startSdk builds it but exporting to memory.
const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new RedactingSpanProcessor(), new SimpleSpanProcessor(exporter)] })
provider.register()
t.teardown(async () => { await provider.shutdown() })

t.test('the redacting processor scrubs every span before export, whatever set the URL', async (t) => {
  exporter.reset()
  const tracer = trace.getTracer('test')
  const span = tracer.startSpan('GET /launches/Zq3xLaunchId', { kind: SpanKind.SERVER, attributes: { 'url.full': 'http://b/launches/Zq3xLaunchId?ticket=t1' } })
  // Set late, as the http instrumentation does with the response.
  span.setAttributes({ 'url.query': 'code=c0de', 'http.target': '/lti13/resume/tkt-9?state=s1', 'http.response.status_code': 303 })
  span.addEvent('exception', { 'exception.message': 'fetch failed: http://hub/hub/api/users/ada?token=hubtoken' })
  span.end()
  const [exported] = exporter.getFinishedSpans()
  t.equal(exported?.name, 'GET /launches/[id]')
  t.same(exported?.attributes, {
    'url.full': 'http://b/launches/[id]',
    'url.query': '[redacted]',
    'http.target': '/lti13/resume/[id]',
    'http.response.status_code': 303
  })
  t.equal(exported?.events[0]?.attributes?.['exception.message'], 'fetch failed: http://hub/hub/api/users/ada')
  const all = JSON.stringify({ name: exported?.name, attributes: exported?.attributes, events: exported?.events })
  for (const secret of ['Zq3xLaunchId', 't1', 'c0de', 'tkt-9', 's1', 'hubtoken']) t.notMatch(all, secret, `${secret} is not exported`)
})

t.test('a traceparent carried with queued work continues its trace in the worker', async (t) => {
  exporter.reset()
  let carried: string | undefined
  await inSpan('intake', {}, async () => { carried = currentTraceparent() })
  t.match(carried, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'inside a span there is a traceparent to store')
  t.equal(currentTraceparent(), undefined, 'outside any span there is none')
  await inSpan('launch.spawn', { traceparent: carried, attributes: { 'launch.attempt': 1 } }, async () => {
    await inSpan('hub.ensure_user', {}, async () => {})
  })
  const [intake, ensure, spawn] = exporter.getFinishedSpans()
  t.equal(spawn?.name, 'launch.spawn')
  t.equal(spawn?.spanContext().traceId, intake?.spanContext().traceId, 'the worker span is in the intake\'s trace')
  t.equal(spawn?.parentSpanContext?.spanId, intake?.spanContext().spanId, 'and its child')
  t.equal(ensure?.parentSpanContext?.spanId, spawn?.spanContext().spanId, 'a step is the worker span\'s child')

  exporter.reset()
  await inSpan('launch.spawn', { traceparent: 'not-a-traceparent' }, async () => {})
  const [fresh] = exporter.getFinishedSpans()
  t.equal(fresh?.parentSpanContext, undefined, 'a malformed traceparent starts a new trace')

  exporter.reset()
  await t.rejects(inSpan('hub.start_server', {}, async () => { throw new Error('hub down') }), /hub down/)
  t.equal(exporter.getFinishedSpans()[0]?.status.code, 2, 'a failed step ends its span with an error status')
})

t.test('with tracing on, a log line written inside a span names its trace and span', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  t.notOk(tracingEnabled())
  t.notOk(loggerOptions({ level: 'info', service: 'kit', pretty: false }).mixin, 'no mixin (no cost) while tracing is off')
  let flushed = false
  markTracingStarted(async () => { flushed = true })
  const log = pino(loggerOptions({ level: 'info', service: 'kit', pretty: false }), sink)
  let ids: Record<string, string> = {}
  await inSpan('request', {}, async () => {
    ids = traceLogFields()
    log.info('inside')
  })
  log.info('outside')
  const [inside, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  t.match(ids, { trace_id: /^[0-9a-f]{32}$/, span_id: /^[0-9a-f]{16}$/ })
  t.match(inside, { msg: 'inside', ...ids })
  t.notOk(outside?.trace_id, 'a line outside any span has no trace id')
  await stopTracing()
  t.ok(flushed, 'stopping flushes the SDK')
})
