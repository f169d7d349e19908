import createError from '@fastify/error'
import fp from 'fastify-plugin'
import type { BaseConfig } from '../config.js'
import type { Store } from '../store/index.js'
import type { AuditService } from '../audit/event.js'
import auditPlugin, { traceIdFromHeader } from './audit.js'
import { traceLogFields } from '../tracing/context.js'
import errorsPlugin from './errors.js'
import healthPlugin from './health.js'
import metricsPlugin from './metrics.js'
import securityHeaders from './security-headers.js'
import storePlugin from './store.js'

export interface ServiceKitOptions {
  service: string
  /** Prefix of the service's error codes, such as PLATFORM or TOOL_AUTH. */
  errorPrefix: string
  config: BaseConfig
  /** A ready store (tests); otherwise one is built from the config. */
  store?: Store
  /** Who may frame the service's pages when FRAME_ANCESTORS is not set (the platform: 'self'); unset: anyone. */
  frameAncestors?: string
}

const UnsupportedCharset = createError('LTILAUNCH_UNSUPPORTED_CHARSET', 'The body is declared in charset %s; send it as UTF-8 (charset=utf-8, or no charset).', 415)

// Bodies are JSON or forms, read as UTF-8; ASCII is a subset of it.
const READABLE_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii'])

/** The charset parameter of a Content-Type, lower-cased, if it names one. */
function charsetOf (contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')
  return match?.[1]?.toLowerCase()
}

/** What every service registers first: security headers, the error handler, metrics, the store, and health routes. */
export default fp<ServiceKitOptions>(async function serviceKit (fastify, options) {
  await fastify.register(securityHeaders, { frameAncestors: options.config.FRAME_ANCESTORS ?? options.frameAncestors })
  await fastify.register(errorsPlugin, { prefix: options.errorPrefix })
  // Before the store, which it times.
  await fastify.register(metricsPlugin, { config: options.config })
  // Every body is JSON or a form. Fastify would also hand text/plain to a
  // route as a bare string, which no route expects (and which a cross-site
  // page may POST without a CORS preflight): refuse it with a 415 instead.
  fastify.removeContentTypeParser('text/plain')
  // A body in another charset would be read as UTF-8 and garbled: say so.
  fastify.addHook('onRequest', async (request) => {
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0
    if (!hasBody) return
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== undefined && !READABLE_CHARSETS.has(charset)) throw new UnsupportedCharset(charset.slice(0, 40))
  })
  await fastify.register(storePlugin, {
    service: options.service,
    settings: options.config,
    ...(options.store ? { store: options.store } : {})
  })
  await fastify.register(healthPlugin, { service: options.service })
  await fastify.register(auditPlugin, {
    service: options.service as AuditService,
    stream: options.config.AUDIT_STREAM,
    streamMaxLength: options.config.AUDIT_STREAM_MAXLEN,
    // The request's own trace when tracing runs; otherwise the caller's traceparent, if any.
    traceId: (request) => traceLogFields().trace_id ?? traceIdFromHeader(request)
  })
}, { name: 'ltilaunch-service-kit', fastify: '5.x' })
