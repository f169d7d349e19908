import { createRequire } from 'node:module'
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

/** pino options for a service: its name on every line, secrets redacted, pretty on a terminal. */
export function loggerOptions (settings: LoggerSettings): LoggerOptions {
  const pretty = settings.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production')
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' }
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
