import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError, type BaseConfig } from './config.js'
import type { DestinationStream } from 'pino'
import { loggerOptions } from './logger.js'
import { errorReplyJson, genericErrorCode } from './plugins/errors.js'
import { BASE_SECURITY_HEADERS } from './plugins/security-headers.js'
import { stopTracing } from './tracing/context.js'

/** What `trustProxy` understands, from the TRUST_PROXY setting. */
export function trustProxySetting (value: boolean | string): boolean | string {
  if (typeof value === 'boolean') return value
  if (value === 'true') return true
  if (value === 'false' || value === '') return false
  // A number of hops is understood at run time, though Fastify's types omit it.
  if (/^\d+$/.test(value)) return Number(value) as unknown as string
  return value
}

/** The timeouts of the HTTP server, from the settings; a header timeout longer than the request timeout is refused. */
export function httpTimeouts (config: Pick<BaseConfig, 'REQUEST_TIMEOUT_MS' | 'HEADERS_TIMEOUT_MS' | 'KEEP_ALIVE_TIMEOUT_MS'>) {
  const requestTimeout = config.REQUEST_TIMEOUT_MS ?? 30000
  const headersTimeout = config.HEADERS_TIMEOUT_MS ?? 10000
  const keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS ?? 72000
  if (headersTimeout > requestTimeout) {
    throw new ConfigError([`HEADERS_TIMEOUT_MS (${headersTimeout}) must not exceed REQUEST_TIMEOUT_MS (${requestTimeout})`])
  }
  // Node checks the two timeouts only every connectionsCheckingInterval
  // (30 s by default), which would stretch a 10 s limit to 40 s.
  const connectionsCheckingInterval = Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4)))
  return { requestTimeout, headersTimeout, keepAliveTimeout, connectionsCheckingInterval }
}

/** One route as the kit saw it registered. */
export interface RegisteredRoute {
  method: string
  url: string
}

const registered = new WeakMap<object, RegisteredRoute[]>()

/** Every route of a server built by `createServer` (with HEAD routes), for tests that must cover them all. */
export function registeredRoutes (server: object): RegisteredRoute[] {
  return [...(registered.get(server) ?? [])]
}

function prefixOf (server: FastifyInstance, service: string): string {
  return server.hasDecorator('errorCodePrefix') ? server.errorCodePrefix : service.toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

/**
 * A request that Node refuses before Fastify sees it (headers too large, too
 * slow, malformed) still gets the kit's JSON error body and headers.
 */
function clientErrorHandler (service: string) {
  return function (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    let statusCode = 400
    let message = 'The request is not valid HTTP.'
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      statusCode = 408
      message = 'The request took too long to arrive (is its Content-Length larger than its body?). Send it again in full.'
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      statusCode = 431
      message = 'The request line and headers are too large. Shorten the URL or drop large cookies and headers.'
    }
    this.log.debug({ code: err.code }, 'client error')
    if (socket.writable) {
      const prefix = prefixOf(this, service)
      const body = errorReplyJson({ statusCode, code: genericErrorCode(prefix, statusCode), message })
      const headers = Object.entries({
        ...BASE_SECURITY_HEADERS,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        connection: 'close'
      }).map(([name, value]) => `${name}: ${value}\r\n`).join('')
      socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Error'}\r\n${headers}\r\n${body}`)
    }
    socket.destroy(err)
  }
}

/**
 * The Fastify instance every service runs in: the same logger, request ids,
 * proxy trust and validation settings, timeouts, with the TypeBox type provider.
 */
export function createServer (options: { service: string, config: BaseConfig, logger?: boolean, logStream?: DestinationStream }) {
  const { config } = options
  const timeouts = httpTimeouts(config)
  const logger = options.logger === false
    ? false
    : { ...loggerOptions({ level: config.LOG_LEVEL, service: options.service, ...(options.logStream ? { pretty: false } : {}) }), ...(options.logStream ? { stream: options.logStream } : {}) }
  const server = Fastify({
    logger,
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
    // A body shorter than its Content-Length, or headers sent a byte at a
    // time, must not hold a connection for Node's default five minutes.
    requestTimeout: timeouts.requestTimeout,
    keepAliveTimeout: timeouts.keepAliveTimeout,
    http: { headersTimeout: timeouts.headersTimeout, connectionsCheckingInterval: timeouts.connectionsCheckingInterval },
    clientErrorHandler: clientErrorHandler(options.service),
    // Errors the router answers by itself (a bad URL, a parameter over its
    // length: 414) go through the service's error handler like any other.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (server.hasDecorator('replyToFrameworkError')) server.replyToFrameworkError(error, request, reply)
      else reply.send(error)
    }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const routes: RegisteredRoute[] = []
  registered.set(server, routes)
  server.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url })
  })

  // While draining, answer in-flight requests with `Connection: close`, so
  // that a client's keep-alive socket does not hold the shutdown open.
  let closing = false
  server.addHook('preClose', async () => { closing = true })
  server.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  return server
}

export interface ServiceDefinition<C extends BaseConfig> {
  /** The service's name, as in its logs and health replies. */
  service: string
  /** The app plugin (app.ts); it receives `{ config }`. */
  app: FastifyPluginAsync<{ config: C }>
  /** Reads and validates the config; throws ConfigError. */
  loadConfig: () => C
}

/**
 * Boots a service: reads its config (a bad one exits 1, naming each
 * variable), builds the app, listens, and closes gracefully on SIGTERM or
 * SIGINT, draining requests in flight and closing Redis.
 */
export type ServiceServer = ReturnType<typeof createServer>

export async function startService<C extends BaseConfig> (definition: ServiceDefinition<C>): Promise<ServiceServer> {
  let config: C
  try {
    config = definition.loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${definition.service}: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }

  let server: ServiceServer
  try {
    server = createServer({ service: definition.service, config })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${definition.service}: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  await server.register(fp(definition.app), { config })

  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: server.log }, async ({ signal, err }) => {
    if (err) server.log.error({ err }, 'closing after an error')
    else server.log.info({ signal }, 'closing: draining requests in flight')
    await server.close()
    // The spans of the last requests leave before the process does.
    await stopTracing().catch((err: unknown) => server.log.warn({ reason: (err as Error).message }, 'cannot export the last spans'))
  })

  try {
    await server.listen({ host: config.HOST, port: config.PORT })
  } catch (err) {
    server.log.fatal({ err }, 'cannot listen')
    process.exit(1)
  }
  return server
}
