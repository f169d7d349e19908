import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError, type BaseConfig } from './config.js'
import { loggerOptions } from './logger.js'

/** What `trustProxy` understands, from the TRUST_PROXY setting. */
export function trustProxySetting (value: boolean | string): boolean | string {
  if (typeof value === 'boolean') return value
  if (value === 'true') return true
  if (value === 'false' || value === '') return false
  // A number of hops is understood at run time, though Fastify's types omit it.
  if (/^\d+$/.test(value)) return Number(value) as unknown as string
  return value
}

/**
 * The Fastify instance every service runs in: the same logger, request ids,
 * proxy trust and validation settings, with the TypeBox type provider.
 */
export function createServer (options: { service: string, config: BaseConfig, logger?: boolean }) {
  const { config } = options
  const server = Fastify({
    logger: options.logger === false ? false : loggerOptions({ level: config.LOG_LEVEL, service: options.service }),
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } }
  }).withTypeProvider<TypeBoxTypeProvider>()

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

  const server = createServer({ service: definition.service, config })
  await server.register(fp(definition.app), { config })

  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: server.log }, async ({ signal, err }) => {
    if (err) server.log.error({ err }, 'closing after an error')
    else server.log.info({ signal }, 'closing: draining requests in flight')
    await server.close()
  })

  try {
    await server.listen({ host: config.HOST, port: config.PORT })
  } catch (err) {
    server.log.fatal({ err }, 'cannot listen')
    process.exit(1)
  }
  return server
}
