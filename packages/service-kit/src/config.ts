import { readFileSync } from 'node:fs'
import envSchema from 'env-schema'
import { Type, type Static, type TObject, type TProperties } from 'typebox'

/**
 * Settings every service shares. A service spreads these into its own schema:
 * `Type.Object({ ...BaseConfigProperties, MY_SETTING: Type.String() })`.
 */
export const BaseConfigProperties = {
  HOST: Type.String({ default: '127.0.0.1', description: 'address to listen on (0.0.0.0 in a container)' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, description: 'port to listen on' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' }
  ),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'the URL browsers and peers reach this service at' })),
  TRUST_PROXY: Type.Union([Type.Boolean(), Type.String()], {
    default: false,
    description: 'trust X-Forwarded-* from a proxy: true, false, or a list of addresses/CIDRs'
  }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 30000,
    description: 'how long a client may take to send a whole request (headers and body) before a 408 and a closed connection'
  }),
  HEADERS_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 10000,
    description: 'how long a client may take to send a request\'s headers (at most REQUEST_TIMEOUT_MS)'
  }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 72000,
    description: 'how long an idle keep-alive connection stays open; longer than the load balancer\'s idle timeout'
  }),
  FRAME_ANCESTORS: Type.Optional(Type.String({
    pattern: "^\\s*('?(self|none)'?|\\*|https?://[^\\s,']+)(\\s*[\\s,]\\s*('?(self|none)'?|\\*|https?://[^\\s,']+))*\\s*$",
    description: 'who may frame this service\'s pages: self, none, *, or origins (https://lms.example.edu), comma or space separated'
  })),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000, description: 'how long a SIGTERM waits for requests in flight' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'redis:// or rediss:// URL of a standalone Redis' })),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$', description: 'host:port list of Redis Sentinels' })),
  REDIS_SENTINEL_NAME: Type.String({ default: 'mymaster', description: 'the master name that the Sentinels watch' }),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$', description: 'host:port list of Redis Cluster seed nodes' })),
  REDIS_PASSWORD: Type.Optional(Type.String({ description: 'password for Sentinel or Cluster nodes (REDIS_URL carries its own)' })),
  REDIS_KEY_PREFIX: Type.Optional(Type.String({ description: 'prefix of every key this service writes (default ltilaunch:<service>:)' })),
  // OpenTelemetry's own variables: the SDK reads them (tracing/settings.ts decides whether it starts); checked here so that a bad one stops the start.
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'OTLP/HTTP collector base URL; traces go to <url>/v1/traces. Setting it turns tracing on' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'OTLP/HTTP URL that receives traces, as is (wins over OTEL_EXPORTER_OTLP_ENDPOINT)' })),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(Type.Union([Type.Literal('http/protobuf'), Type.Literal('http/json')], { description: 'http/protobuf (the default) or http/json; grpc is not built in' })),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Type.Optional(Type.Union([Type.Literal('http/protobuf'), Type.Literal('http/json')], { description: 'the protocol for traces alone' })),
  OTEL_EXPORTER_OTLP_HEADERS: Type.Optional(Type.String({ description: 'headers sent to the collector, key=value pairs separated by commas' })),
  OTEL_SERVICE_NAME: Type.Optional(Type.String({ description: 'service.name of the spans (default: the service\'s name)' })),
  OTEL_RESOURCE_ATTRIBUTES: Type.Optional(Type.String({ description: 'more resource attributes, key=value pairs separated by commas' })),
  OTEL_TRACES_SAMPLER: Type.Optional(Type.String({ description: 'the sampler, as OpenTelemetry names them (default parentbased_always_on)' })),
  OTEL_TRACES_SAMPLER_ARG: Type.Optional(Type.String({ description: 'the sampler\'s argument (a ratio for the traceidratio samplers)' })),
  OTEL_TRACES_EXPORTER: Type.Optional(Type.Union([Type.Literal('otlp'), Type.Literal('none')], { description: 'otlp (the default with an endpoint) or none, which keeps tracing off' })),
  OTEL_SDK_DISABLED: Type.Optional(Type.Boolean({ description: 'true keeps tracing off even with an endpoint set' })),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'serve Prometheus metrics at /metrics on this port, apart from the public routes' })),
  METRICS_HOST: Type.Optional(Type.String({ minLength: 1, description: 'address the metrics port listens on (default: HOST)' })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'bearer token /metrics requires; without METRICS_PORT, /metrics is then served on the service\'s own port' })),
  AUDIT_STREAM: Type.Optional(Type.String({ pattern: '^[^\\s]{1,200}$', description: 'Redis Stream key that audit events are also added to (stdout always has them); needs Redis' })),
  AUDIT_STREAM_MAXLEN: Type.Integer({ minimum: 1, default: 100000, description: 'about how many events the audit stream keeps (XADD MAXLEN ~)' })
}

export const BaseConfigSchema = Type.Object(BaseConfigProperties)
export type BaseConfig = Static<typeof BaseConfigSchema>

/** A configuration that cannot start a service; `problems` names each variable and why. */
export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

interface AjvError {
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

/**
 * Reads a service's configuration from the environment and validates it.
 *
 * `NAME_FILE` may name a file that holds the value of `NAME` (Docker and
 * Kubernetes secrets); `NAME` itself wins when both are set. Every bad or
 * missing value is reported at once, by name, in a `ConfigError`.
 */
export function loadConfig<P extends TProperties> (
  schema: TObject<P>,
  env: NodeJS.ProcessEnv = process.env
): Static<TObject<P>> {
  const problems: string[] = []
  const data: Record<string, string> = {}
  for (const name of Object.keys(schema.properties)) {
    const direct = env[name]
    const file = env[`${name}_FILE`]
    if (direct !== undefined && direct !== '') {
      data[name] = direct
    } else if (file !== undefined && file !== '') {
      try {
        data[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      } catch (err) {
        problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)

  // env-schema mutates the schema it is given; validate a copy.
  const copy = structuredClone(schema) as unknown as Record<string, unknown>
  try {
    return envSchema({ schema: copy, data, env: false }) as Static<TObject<P>>
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors
    if (!errors) throw err
    throw new ConfigError(describeErrors(errors, schema))
  }
}

function describeErrors (errors: AjvError[], schema: TObject): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const error of errors) {
    const missing = error.params.missingProperty as string | undefined
    const name = missing ?? error.instancePath.replace(/^\//, '').split('/')[0] ?? '(config)'
    // A union reports one error per branch; one line per variable is enough.
    if (seen.has(name)) continue
    seen.add(name)
    const property = (schema.properties as Record<string, { description?: string, anyOf?: unknown[] }>)[name]
    const about = property?.description ? ` (${property.description})` : ''
    out.push(missing ? `${name} is required${about}` : `${name} ${error.message ?? 'is invalid'}${about}`)
  }
  return out
}

/** Splits a comma-separated setting into trimmed, non-empty parts. */
export function splitList (value: string | undefined): string[] {
  if (!value) return []
  return value.split(',').map((part) => part.trim()).filter((part) => part !== '')
}
