import fp from 'fastify-plugin'
import type { Platform } from '../config.js'
import { ClientAmbiguous, ClientUnknown, IssuerUnknown } from '../errors.js'

export interface Platforms {
  readonly all: readonly Platform[]
  /** The registration of an issuer, or TOOL_AUTH_ISSUER_UNKNOWN. */
  get: (issuer: string) => Platform
  /**
   * The client id a launch uses: the one the platform sent, if registered;
   * when it sent none, the issuer's only one.
   */
  clientFor: (platform: Platform, clientId: string | undefined) => string
}

declare module 'fastify' {
  interface FastifyInstance {
    platforms: Platforms
  }
}

/** The platform registrations (many issuers, each with its client ids), read once at start. */
export default fp(async function platformsPlugin (fastify) {
  const byIssuer = new Map(fastify.config.platforms.map((platform) => [platform.issuer, platform]))
  fastify.decorate('platforms', {
    all: fastify.config.platforms,
    get (issuer: string): Platform {
      const platform = byIssuer.get(issuer)
      if (platform === undefined) throw new IssuerUnknown(issuer)
      return platform
    },
    clientFor (platform: Platform, clientId: string | undefined): string {
      if (clientId !== undefined && clientId !== '') {
        if (!platform.clientIds.includes(clientId)) throw new ClientUnknown(clientId, platform.issuer)
        return clientId
      }
      if (platform.clientIds.length !== 1) throw new ClientAmbiguous(platform.issuer)
      return platform.clientIds[0] as string
    }
  })
}, { name: 'tool-auth-platforms' })
