import { trace, type SpanContext } from '@opentelemetry/api'
import { RedisStreamQueue, type RedisStore } from '@ltilaunch/service-kit'
import { testRedisUrl } from '@ltilaunch/service-kit/testing'
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node'
import t, { type Test } from 'tap'
import { spawnJobCodec } from '../src/queue/spawn-job.js'
import { Worker } from '../src/worker/worker.js'
import { fakeHubForTest } from './fake-hub.js'
import { build, launchRequest, postLaunch, waitForLaunch, type App } from './helper.js'

// The SDK as a service runs it (global provider, AsyncLocalStorage context, W3C propagator), exporting to memory.
const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
provider.register()
t.teardown(async () => { await provider.shutdown() })

/** A second broker replica's worker: its own connection to the same stream. */
async function replicaWorker (t: Test, app: App): Promise<void> {
  const store = app.store as RedisStore
  const queue = new RedisStreamQueue({ settings: { REDIS_URL: testRedisUrl() }, prefix: store.prefix, stream: 'launches', group: 'spawners', claimIdleMs: 1000, codec: spawnJobCodec })
  await queue.connect()
  const worker = new Worker({ queue, launches: app.launches, driver: app.spawnDriver, log: app.log, concurrency: 1, claimIdleMs: 1000, spawnTimeoutMs: 5000, maxDeliveries: 5, blockMs: 200 })
  worker.start()
  t.teardown(async () => {
    await worker.stop()
    await queue.close()
  })
}

/** The worker's span ends after the record says ready (the entry is acknowledged in between): wait for it. */
async function spawnSpan (): Promise<ReadableSpan | undefined> {
  for (let i = 0; i < 100; i++) {
    const found = exporter.getFinishedSpans().find((span) => span.name === 'launch.spawn')
    if (found) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return undefined
}

const idsOf = (span: ReadableSpan | undefined): SpanContext | undefined => span?.spanContext()

t.test('the trace of the request that queued a launch goes on in the replica that spawns it, through the Redis stream', async (t) => {
  exporter.reset()
  const hub = await fakeHubForTest(t)
  // Intake only: the worker of another replica takes the entry.
  const app = await build(t, { env: { HUB_URL: hub.url, HUB_API_TOKEN: hub.options.token, WORKER_CONCURRENCY: '0' } })
  let caller: SpanContext | undefined
  const res = await trace.getTracer('test').startActiveSpan('tool-auth callback', async (span) => {
    caller = span.spanContext()
    try {
      return await postLaunch(app, launchRequest({ username: 'traced' }))
    } finally {
      span.end()
    }
  })
  t.equal(res.statusCode, 201)
  const id = res.json().id as string

  const store = app.store as RedisStore
  const entries = await store.redis.xrange(`${store.prefix}launches`, '-', '+') as Array<[string, string[]]>
  const fields = entries[0]?.[1] ?? []
  t.equal(fields[fields.indexOf('traceparent') + 1], `00-${caller?.traceId}-${caller?.spanId}-01`, 'the queue entry holds the caller\'s traceparent')

  await replicaWorker(t, app)
  t.equal((await waitForLaunch(app, id)).status, 'ready')
  const spawn = await spawnSpan()
  const spans = exporter.getFinishedSpans()
  t.equal(idsOf(spawn)?.traceId, caller?.traceId, 'the worker\'s span is in the caller\'s trace')
  t.equal(spawn?.parentSpanContext?.spanId, caller?.spanId, 'as the child of the span that queued it')
  t.match(spawn?.attributes, { 'launch.attempt': 1, 'launch.status': 'ready' })
  for (const step of ['hub.ensure_user', 'hub.sync_role', 'hub.start_server', 'hub.follow_progress']) {
    const found = spans.find((span) => span.name === step)
    t.equal(found?.parentSpanContext?.spanId, idsOf(spawn)?.spanId, `${step} is a step of the spawn`)
  }
  const answer = spans.find((span) => span.name === 'hub.start_server')?.attributes['http.response.status_code']
  t.ok(answer === 201 || answer === 202, `the hub's answer to the start is on its span (${String(answer)})`)
  const everything = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })))
  t.notMatch(everything, id, 'no span holds the launch id')
})

t.test('an entry queued outside any trace (tracing off at intake, or an older broker) starts a trace of its own', async (t) => {
  exporter.reset()
  const app = await build(t, { env: { WORKER_CONCURRENCY: '0' } })
  const res = await postLaunch(app, launchRequest())
  const store = app.store as RedisStore
  const entries = await store.redis.xrange(`${store.prefix}launches`, '-', '+') as Array<[string, string[]]>
  t.notOk(entries[0]?.[1].includes('traceparent'), 'no traceparent is stored without a trace')
  await replicaWorker(t, app)
  t.equal((await waitForLaunch(app, res.json().id)).status, 'ready')
  const spawn = await spawnSpan()
  t.ok(spawn, 'the spawn has a span')
  t.equal(spawn?.parentSpanContext, undefined, 'a root span')
})
