import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'
import type { LoggerOptions } from 'pino'
import { traceLogFields, tracingEnabled } from './tracing/context.js'

/**
 * Log fields that hold a launch id. A launch id is a capability (it opens
 * the launch's page), so a log shows a fingerprint instead: the same launch
 * has the same fingerprint on every line and every service, and the
 * fingerprint opens nothing.
 */
const CAPABILITY_KEYS = new Set(['launch', 'launchId', 'launch_id'])

/**
 * Paths pino must never print: credentials in headers, and tokens or secrets
 * wherever a request body or a logged object may carry them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.id_token',
  '*.client_secret',
  '*.code',
  '*.code_verifier',
  '*.access_token',
  '*.refresh_token',
  '*.token',
  '*.password',
  '*.apiKey',
  'id_token',
  'client_secret',
  'access_token',
  'refresh_token',
  ...[...CAPABILITY_KEYS].flatMap((key) => [key, `*.${key}`])
]

/** A short, stable, one-way stand-in for a capability, so log lines about one launch can be matched up. */
export function capabilityFingerprint (value: string): string {
  return `#${createHash('sha256').update(value).digest('hex').slice(0, 12)}`
}

function censor (value: unknown, path: string[]): unknown {
  const key = path[path.length - 1] ?? ''
  if (CAPABILITY_KEYS.has(key) && typeof value === 'string') return capabilityFingerprint(value)
  return '[redacted]'
}

/**
 * Masks the capability in a request path, for every request log line of
 * every service: the segment after /launches/ is a launch id or a one-time
 * ticket (the broker's /launches/<id> and /v1/launches/<id>, the platform's
 * /launches/<ticket>).
 */
export function maskCapabilityPath (path: string): string {
  // A segment a route's own serializer already masked ([ticket]) stays as it is.
  return path.replace(/\/launches\/(?!\[)[^/]+/g, '/launches/[id]')
}

export interface LoggerSettings {
  level: string
  service: string
  /** Pretty, human logs; defaults to on when stdout is a terminal and NODE_ENV is not production. */
  pretty?: boolean
}

/**
 * The request as a log line shows it, without its query: in this system a
 * query often carries a one-time value (login_hint, lti_message_hint, state,
 * an OAuth code), and a log must never yield a usable launch. `maskPath`
 * hides a capability that sits in the path itself.
 */
export function requestLogSerializer (maskPath: (path: string) => string = maskCapabilityPath) {
  return (request: FastifyRequest) => {
    // A `req` logged by hand may be any object; only a request is reshaped.
    if (typeof request?.url !== 'string') return request
    return {
      method: request.method,
      url: maskPath(request.url.split('?')[0] ?? ''),
      host: request.host,
      remoteAddress: request.ip
    }
  }
}

/** Route `logSerializers` for a path that is itself a capability, such as /launches/<ticket>. */
export function maskedPathLogSerializers (pattern: RegExp, replacement: string) {
  return { req: requestLogSerializer((path) => maskCapabilityPath(path.replace(pattern, replacement))) }
}

/** pino options for a service: its name on every line, secrets redacted, queries left out, trace ids when tracing, pretty on a terminal. */
export function loggerOptions (settings: LoggerSettings): LoggerOptions {
  const pretty = settings.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production')
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: REDACTED_PATHS, censor },
    serializers: { req: requestLogSerializer() }
  }
  // With tracing on, each line written inside a span names its trace_id and span_id.
  if (tracingEnabled()) options.mixin = traceLogFields
  const target = pretty ? prettyTarget() : undefined
  if (target) {
    options.transport = { target, options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } }
  }
  return options
}

// Resolved from here so that it works under pnpm's strict layout; absent in a
// production image, where logs stay JSON.
function prettyTarget (): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('pino-pretty')
  } catch {
    return undefined
  }
}
