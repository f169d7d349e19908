/**
 * When tracing is on, from the standard OpenTelemetry variables: an OTLP
 * endpoint (for all signals or for traces) turns it on; without one no SDK
 * is loaded. Read straight from the environment, before the service's
 * config: the SDK must start before the modules it instruments are loaded.
 */

/** The OTLP protocols this build exports with; grpc is not one (its exporter is not installed). */
export const TRACE_PROTOCOLS = ['http/protobuf', 'http/json'] as const
export type TraceProtocol = typeof TRACE_PROTOCOLS[number]

export interface TracingSettings {
  /** Resource service.name: OTEL_SERVICE_NAME, else the service's own name. */
  serviceName: string
  protocol: TraceProtocol
}

const set = (value: string | undefined): value is string => value !== undefined && value.trim() !== ''

/**
 * The settings when tracing should start, undefined when it stays off: no
 * endpoint, OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or a
 * protocol this build cannot export with (the config check then says so).
 */
export function tracingSettings (service: string, env: NodeJS.ProcessEnv = process.env): TracingSettings | undefined {
  if (!set(env.OTEL_EXPORTER_OTLP_ENDPOINT) && !set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return undefined
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim()
  if (!(TRACE_PROTOCOLS as readonly string[]).includes(protocol)) return undefined
  return { serviceName: set(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME.trim() : service, protocol: protocol as TraceProtocol }
}
