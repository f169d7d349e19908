import type { Context } from '@opentelemetry/api'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http'
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-node'
import { markTracingStarted } from './context.js'
import { redactedAttribute, redactText, redisStatement } from './redact.js'
import type { TracingSettings } from './settings.js'

/** Probes and scrapes: many a minute, none part of a launch. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics'])
const untraced = (url: string | undefined): boolean => UNTRACED_PATHS.has((url ?? '').split('?')[0] ?? '')

/**
 * Scrubs every span before it is exported (onEnding runs while the span can
 * still be written): URLs lose their query and their capability segments
 * (redact.ts), wherever an instrumentation put them, in the name, the
 * attributes and the events' attributes.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart (_span: Span, _context: Context): void {}

  onEnding (span: Span): void {
    const name = redactText(span.name)
    if (name !== span.name) span.updateName(name)
    for (const [key, value] of Object.entries(span.attributes)) {
      const safe = redactedAttribute(key, value)
      if (safe !== undefined) span.setAttribute(key, safe)
    }
    for (const event of span.events) {
      for (const [key, value] of Object.entries(event.attributes ?? {})) {
        const safe = redactedAttribute(key, value)
        // An event's attributes are a plain object until the span is exported.
        if (safe !== undefined) (event.attributes as Record<string, unknown>)[key] = safe
      }
    }
  }

  onEnd (_span: ReadableSpan): void {}
  async forceFlush (): Promise<void> {}
  async shutdown (): Promise<void> {}
}

/** Starts the SDK: the exporter, the W3C propagator and the http, undici (fetch), Fastify and ioredis instrumentations. */
export function startSdk (settings: TracingSettings): NodeTracerProvider {
  // The exporters read the endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables themselves.
  const exporter = settings.protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtobufExporter()
  // OTEL_RESOURCE_ATTRIBUTES adds to the resource; the service's name is settled in settings.ts.
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ 'service.name': settings.serviceName }))
  const provider = new NodeTracerProvider({
    resource,
    // In this order: scrubbed, then handed to the batch for export.
    spanProcessors: [new RedactingSpanProcessor(), new BatchSpanProcessor(exporter)]
  })
  // The global provider, the AsyncLocalStorage context and the W3C traceparent propagator.
  provider.register()
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => untraced(request.url) }),
      new UndiciInstrumentation(),
      // A request span and its handler span; a span per lifecycle hook would triple the spans for little.
      new FastifyOtelInstrumentation({ registerOnInitialization: true, instrumentHooks: false, ignorePaths: (route) => untraced(route.url) }),
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => redisStatement(command) })
    ]
  })
  markTracingStarted(async () => { await provider.shutdown() })
  return provider
}
