import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api'

/**
 * What the services do with traces, through the OpenTelemetry API alone. Without
 * the SDK (no exporter endpoint set) every call here is the API's no-op: no
 * span is recorded and no traceparent is made.
 */

const TRACER = '@ltilaunch/service-kit'

/** A span as the services see it (OpenTelemetry's). */
export type TraceSpan = Span

let enabled = false
let shutdown: (() => Promise<void>) | undefined

/** Called by startTracing once the SDK runs; `flush` exports the spans still buffered. */
export function markTracingStarted (flush: () => Promise<void>): void {
  enabled = true
  shutdown = flush
}

/** Whether the SDK runs in this process. */
export function tracingEnabled (): boolean {
  return enabled
}

/** Exports the buffered spans and stops the SDK (graceful shutdown); nothing without it. */
export async function stopTracing (): Promise<void> {
  const flush = shutdown
  shutdown = undefined
  await flush?.()
}

/** The active span's ids, for every log line written inside it (a pino mixin). */
export function traceLogFields (): Record<string, string> {
  const span = trace.getActiveSpan()
  if (span === undefined) return {}
  const ids = span.spanContext()
  if (!trace.isSpanContextValid(ids)) return {}
  return { trace_id: ids.traceId, span_id: ids.spanId }
}

/** The W3C traceparent of the active span, for work that goes on later or elsewhere (a queue entry). */
export function currentTraceparent (): string | undefined {
  return traceHeaders().traceparent
}

/** The headers that carry the active trace to a peer (traceparent, tracestate); none outside a trace or without tracing. */
export function traceHeaders (): Record<string, string> {
  const carrier: Record<string, string> = {}
  propagation.inject(context.active(), carrier)
  return carrier
}

/**
 * Runs `work` in a span of its own. With `traceparent` (taken from a queue
 * entry), the span continues that trace even in another process; a missing
 * or malformed one starts a new trace.
 */
export async function inSpan<T> (
  name: string,
  options: { traceparent?: string, attributes?: Attributes },
  work: (span: Span) => Promise<T>
): Promise<T> {
  const parent = options.traceparent === undefined
    ? context.active()
    : propagation.extract(ROOT_CONTEXT, { traceparent: options.traceparent })
  const span = trace.getTracer(TRACER).startSpan(name, options.attributes === undefined ? {} : { attributes: options.attributes }, parent)
  try {
    return await context.with(trace.setSpan(parent, span), async () => await work(span))
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name })
    throw err
  } finally {
    span.end()
  }
}
