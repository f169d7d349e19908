import type { FastifyRequest } from 'fastify'
import type { BrokerConfig } from './config.js'

/** This service's base URL as browsers and peers reach it: PUBLIC_URL, else the request's own. */
export function publicBase (config: Pick<BrokerConfig, 'PUBLIC_URL'>, request: FastifyRequest): string {
  return (config.PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '')
}

/** The path part of the base (for links inside pages), without a trailing slash. */
export function publicPath (config: Pick<BrokerConfig, 'PUBLIC_URL'>): string {
  return config.PUBLIC_URL ? new URL(config.PUBLIC_URL).pathname.replace(/\/+$/, '') : ''
}
