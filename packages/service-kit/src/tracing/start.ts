import { register } from 'node:module'
import { tracingSettings } from './settings.js'

/**
 * Starts OpenTelemetry tracing for a service when an OTLP endpoint is set
 * (see settings.ts), and does nothing else otherwise: the SDK and the
 * instrumentations are imported only then. Must run before the service
 * imports Fastify, ioredis or node:http (server.ts imports its app after it),
 * so that the instrumentations can hook them. Resolves to whether it started.
 */
export async function startTracing (service: string): Promise<boolean> {
  const settings = tracingSettings(service)
  if (settings === undefined) return false
  // The services are ES modules: the instrumentations see an import only
  // through this loader hook, limited to the modules they patch.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: ['ioredis', 'http', 'https', 'node:http', 'node:https'] }
  })
  const { startSdk } = await import('./sdk.js')
  startSdk(settings)
  return true
}

export { tracingSettings, TRACE_PROTOCOLS, type TraceProtocol, type TracingSettings } from './settings.js'
export { redactedAttribute, redactText, redactUrl, redisStatement } from './redact.js'
