import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'
import type { LoggerOptions } from 'pino'

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
  'refresh_token'
]

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
export function requestLogSerializer (maskPath: (path: string) => string = (path) => path) {
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
  return { req: requestLogSerializer((path) => path.replace(pattern, replacement)) }
}

/** pino options for a service: its name on every line, secrets redacted, queries left out, pretty on a terminal. */
export function loggerOptions (settings: LoggerSettings): LoggerOptions {
  const pretty = settings.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production')
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: requestLogSerializer() }
  }
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
