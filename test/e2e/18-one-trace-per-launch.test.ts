/**
 * Issue 16: one launch is one trace. The three services run as real
 * processes with tracing on (OTLP/HTTP JSON to a receiver this test runs),
 * and two broker replicas: A only takes launches (WORKER_CONCURRENCY=0), B
 * only spawns them, so the trace must cross the Redis stream in the queue
 * entry. One launch through the stack and a real hub, then: one trace id
 * covers tool-auth's callback → its call to the broker → A's intake → B's
 * spawn → the hub's answers, with the right parents; no span of any service
 * holds the launch id, a query or a secret; log lines carry the trace id.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import t from 'tap'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { freePort, startProcess, type Teardown } from '../harness/processes.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { BROKER_TOKEN, cryptKey, genericOAuthHubConfig, HUB_CLIENT_SECRET, IMAGES, planStack, servicesDir, startStack } from './stack.js'

/** One span as the receiver keeps it. */
interface ReceivedSpan {
  service: string
  instance: string
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  name: string
  /** 1 internal, 2 server, 3 client (OTLP). */
  kind: number
  attributes: Record<string, string | number | boolean>
  raw: unknown
}

type OtlpValue = { stringValue?: string, intValue?: string | number, boolValue?: boolean, doubleValue?: number }
type OtlpAttribute = { key: string, value: OtlpValue }

const valueOf = (value: OtlpValue): string | number | boolean =>
  value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue ?? value.doubleValue ?? '')
const attributesOf = (list: OtlpAttribute[] = []): Record<string, string | number | boolean> =>
  Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]))

/** A minimal OTLP/HTTP receiver (JSON encoding): POST /v1/traces, every span kept. */
async function startReceiver (t: Teardown): Promise<{ url: string, spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = []
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces' || !String(request.headers['content-type']).includes('json')) {
        response.writeHead(415).end()
        return
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }, scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> }
      for (const resourceSpans of body.resourceSpans) {
        const resource = attributesOf(resourceSpans.resource.attributes)
        for (const scope of resourceSpans.scopeSpans) {
          for (const span of scope.spans) {
            spans.push({
              service: String(resource['service.name']),
              instance: String(resource['service.instance.id'] ?? ''),
              traceId: span.traceId as string,
              spanId: span.spanId as string,
              parentSpanId: (span.parentSpanId as string | undefined) || undefined,
              name: span.name as string,
              kind: span.kind as number,
              attributes: attributesOf(span.attributes as OtlpAttribute[]),
              raw: span
            })
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans }
}

const receiver = await startReceiver(t)
const tracing = (instance: string): NodeJS.ProcessEnv => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${instance}`,
  // Export soon after a span ends (the default waits 5 s); shutdown exports the rest.
  OTEL_BSP_SCHEDULE_DELAY: '200'
})

const plan = await planStack('s18')
const hub = await startJupyterHub(t, {
  name: 's18-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
const stack = await startStack(t, plan, {
  hub,
  env: { platform: tracing('platform'), toolAuth: tracing('tool-auth'), broker: { ...tracing('broker-a'), WORKER_CONCURRENCY: '0' } }
})
// Replica B: the same settings and Redis keys, its own port, the only worker.
const replicaPort = await freePort()
const replica = await startProcess(t, {
  name: 's18-spawner-broker-b',
  cmd: process.execPath,
  args: [path.join(servicesDir, 'spawner-broker', 'dist', 'server.js')],
  cwd: path.join(servicesDir, 'spawner-broker'),
  env: { ...stack.brokerEnv, ...tracing('broker-b'), PORT: String(replicaPort), WORKER_CONCURRENCY: '4' },
  readyUrl: { url: `http://127.0.0.1:${replicaPort}/readyz`, ok: (status) => status === 200 },
  timeoutMs: 30_000,
  graceMs: 5000
})

t.test('one launch is one trace from tool-auth\'s callback to the hub\'s answer, across both broker replicas', async (t) => {
  const launch = await launchThroughStack(stack, 'ada', { course: 'ds101', image: IMAGES.minimal })
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  const id = launch.launchId ?? ''
  t.ok(id.length >= 16, 'the browser passed the broker\'s progress page')
  t.equal((await stack.brokerLaunch(id)).status, 'ready')
  // Stopping exports what is still buffered (graceful shutdown flushes the SDK).
  await stack.stop()
  await replica.stop()
  const spans = receiver.spans
  t.ok(spans.length > 20, `the receiver got spans (${spans.length})`)

  const byId = new Map(spans.map((span) => [span.spanId, span]))
  const ancestors = (span: ReceivedSpan | undefined): ReceivedSpan[] => {
    const chain: ReceivedSpan[] = []
    for (let at = span?.parentSpanId; at !== undefined; at = byId.get(at)?.parentSpanId) {
      const parent = byId.get(at)
      if (parent === undefined) break
      chain.push(parent)
    }
    return chain
  }

  const intake = spans.find((s) => s.instance === 'broker-a' && s.kind === 2 && s.attributes['http.request.method'] === 'POST' && s.attributes['http.route'] === '/v1/launches')
  t.ok(intake, 'replica A\'s intake (POST /v1/launches) has a server span')
  const traceId = intake?.traceId
  const inTrace = spans.filter((s) => s.traceId === traceId)

  const call = byId.get(intake?.parentSpanId ?? '')
  t.equal(call?.service, 'tool-auth', 'its parent is tool-auth\'s')
  t.equal(call?.kind, 3, 'client span of the call to the broker')
  t.match(String(call?.attributes['url.full']), `${plan.brokerUrl}/v1/launches`)
  const callback = ancestors(intake).find((s) => s.service === 'tool-auth' && s.kind === 2)
  t.match(String(callback?.attributes['http.route']), /^\/lti13\/(launch|oauth_callback)$/, 'which was made while handling the LTI callback')
  t.equal(callback?.parentSpanId, undefined, 'the callback starts the trace (a browser carries no traceparent)')

  const spawn = inTrace.find((s) => s.name === 'launch.spawn')
  t.equal(spawn?.instance, 'broker-b', 'replica B spawned it')
  t.ok(ancestors(spawn).includes(intake as ReceivedSpan), 'and its span descends from A\'s intake, through the queue entry')
  t.equal(spawn?.attributes['launch.status'], 'ready')
  for (const step of ['hub.ensure_user', 'hub.sync_role', 'hub.start_server', 'hub.follow_progress']) {
    const found = inTrace.find((s) => s.name === step)
    t.equal(found?.parentSpanId, spawn?.spanId, `${step} is a step of the spawn`)
  }
  const hubCalls = inTrace.filter((s) => s.instance === 'broker-b' && s.kind === 3 && String(s.attributes['url.full']).startsWith(`${plan.hubUrl}/hub/api/`))
  t.ok(hubCalls.length >= 3, `the hub's REST calls are client spans of the trace (${hubCalls.length})`)
  const start = hubCalls.find((s) => s.attributes['http.request.method'] === 'POST' && /\/servers\//.test(String(s.attributes['url.full'])))
  t.ok(start?.attributes['http.response.status_code'] === 201 || start?.attributes['http.response.status_code'] === 202, 'the hub\'s answer to the start is on its span')
  t.ok(ancestors(start).some((s) => s.name === 'hub.start_server'), 'inside the start step')
  t.ok(inTrace.some((s) => s.attributes['db.system.name'] === 'redis' && s.instance === 'broker-a'), 'the intake\'s Redis commands are spans of the trace')

  const platformAuthorize = spans.find((s) => s.service === 'platform' && s.kind === 2 && s.attributes['http.route'] === '/lti/authorize')
  t.ok(platformAuthorize, 'the platform traced its authorization (in a trace of its own: the browser posts between the two)')

  // Nothing secret in any span of any service.
  const everything = JSON.stringify(spans.map((s) => s.raw))
  for (const [what, secret] of [['the launch id', id], ['the broker token', BROKER_TOKEN], ['the hub\'s API token', hub.apiToken], ['the hub\'s client secret', HUB_CLIENT_SECRET]] as const) {
    t.notOk(everything.includes(secret), `no span holds ${what}`)
  }
  t.same(spans.filter((s) => !['', '[redacted]', undefined].includes(s.attributes['url.query'] as string | undefined)).map((s) => `${s.name} ${String(s.attributes['url.query'])}`), [], 'no span keeps a query')
  t.ok(spans.some((s) => s.attributes['url.query'] === '[redacted]'), 'queries were there (login hints, states, codes) and are redacted')
  t.same(spans.filter((s) => /[?#]/.test(String(s.attributes['url.full'] ?? '') + String(s.attributes['url.path'] ?? ''))).map((s) => s.name), [], 'no span URL has a query')
  t.ok(spans.some((s) => s.attributes['url.path'] === '/launches/[id]'), 'the progress page\'s path is kept, its id masked')
  t.same([...new Set(spans.filter((s) => s.attributes['db.system.name'] === 'redis').map((s) => s.attributes['db.query.text']))].filter((text) => !/^[A-Z]+$/.test(String(text))), [],
    'a Redis span names its command alone (keys hold states, codes and launch ids)')

  // Log lines inside the trace name it.
  const logLines = (file: string): Array<Record<string, unknown>> => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
  t.ok(logLines(stack.toolAuth?.logFile ?? '').some((line) => line.trace_id === traceId && line.msg === 'request completed'), 'tool-auth\'s log of the callback carries the trace id')
  t.ok(logLines(stack.broker?.logFile ?? '').some((line) => line.trace_id === traceId && line.msg === 'launch accepted'), 'replica A\'s intake log line carries it')
  t.ok(logLines(replica.logFile).some((line) => line.trace_id === traceId && line.msg === 'launch ready' && line.span_id === spawn?.spanId), 'replica B\'s "launch ready" line carries it and the spawn span')
})
