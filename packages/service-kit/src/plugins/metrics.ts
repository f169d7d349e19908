import { timingSafeEqual, createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import createError from '@fastify/error'
import fp from 'fastify-plugin'
import { Type } from 'typebox'
import { Registry } from 'prom-client'
import type { BaseConfig } from '../config.js'
import { KitMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's metrics: its registry (for the service's own series) and the kit's series. */
    metrics: KitMetrics
    /** Where the metrics listener (METRICS_PORT) listens, once the app is ready; undefined without one. */
    metricsAddress: () => AddressInfo | undefined
  }
}

export interface MetricsPluginOptions {
  config: Pick<BaseConfig, 'HOST' | 'METRICS_PORT' | 'METRICS_HOST' | 'METRICS_TOKEN'>
}

const MetricsUnauthorized = createError('LTILAUNCH_METRICS_UNAUTHORIZED', 'The metrics need the bearer token that METRICS_TOKEN sets (Authorization: Bearer ...).', 401)

const METRICS_PATH = '/metrics'

// The methods a route can have; anything else is one label, not one per verb an attacker invents.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** Whether an Authorization header carries the token (compared in constant time). */
function bearerMatches (header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return match !== null && timingSafeEqual(digest(match[1] as string), digest(token))
}

/**
 * Prometheus metrics (prom-client): a registry per app, the HTTP histogram by
 * route pattern (never the raw URL, which may hold a launch id), 429s, and
 * the exposition. With METRICS_PORT the metrics are served on a listener of
 * their own, apart from the public routes (and behind METRICS_TOKEN when it
 * is set); with METRICS_TOKEN alone, at /metrics on the service's port,
 * behind the token; with neither, they are kept but not served.
 *
 * Why not fastify-metrics: its current major is built on a fork of
 * prom-client rather than prom-client itself, and serves metrics on the app's
 * own port; a listener apart and one registry that the services extend are
 * the two things needed here.
 */
export default fp<MetricsPluginOptions>(async function metricsPlugin (fastify, options) {
  const { config } = options
  const metrics = new KitMetrics(new Registry())
  let listener: Server | undefined
  fastify.decorate('metrics', metrics)
  fastify.decorate('metricsAddress', () => listener?.address() as AddressInfo | undefined ?? undefined)

  fastify.addHook('onResponse', async (request, reply) => {
    // The pattern (/v1/launches/:id), or one label for whatever no route matched.
    const route = request.routeOptions.url ?? 'unmatched'
    const method = METHODS.has(request.method) ? request.method : 'OTHER'
    metrics.httpDuration.observe({ method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    if (reply.statusCode === 429) metrics.rateLimited.inc({ route })
  })

  const token = config.METRICS_TOKEN
  if (config.METRICS_PORT !== undefined) {
    const serve = (request: IncomingMessage, response: ServerResponse): void => {
      const path = (request.url ?? '').split('?')[0]
      if (path !== METRICS_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics are at GET ${METRICS_PATH}\n`)
        return
      }
      if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
        response.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer' }).end('the metrics need the bearer token (METRICS_TOKEN)\n')
        return
      }
      metrics.exposition().then((body) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' })
        response.end(request.method === 'HEAD' ? undefined : body)
      }, (err: unknown) => {
        fastify.log.error({ err }, 'cannot collect the metrics')
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('cannot collect the metrics\n')
      })
    }
    fastify.addHook('onReady', async () => {
      const server = createServer(serve)
      server.listen(config.METRICS_PORT, config.METRICS_HOST ?? config.HOST)
      await once(server, 'listening')
      listener = server
      const address = server.address() as AddressInfo
      fastify.log.info({ address: address.address, port: address.port }, `metrics at http://${address.address}:${address.port}${METRICS_PATH}`)
    })
    fastify.addHook('onClose', async () => {
      if (listener === undefined) return
      listener.closeAllConnections()
      await new Promise<void>((resolve) => listener?.close(() => resolve()))
    })
  } else if (token !== undefined) {
    fastify.get(METRICS_PATH, {
      schema: { response: { 200: Type.String({ description: 'the Prometheus text exposition' }) } },
      logLevel: 'warn'
    }, async (request, reply) => {
      if (!bearerMatches(request.headers.authorization, token)) {
        reply.header('www-authenticate', 'Bearer')
        throw new MetricsUnauthorized()
      }
      return await reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(await metrics.exposition())
    })
  } else {
    fastify.log.debug('metrics are kept but not served: set METRICS_PORT (a listener of their own) or METRICS_TOKEN')
  }
}, { name: 'ltilaunch-metrics', fastify: '5.x' })
