import fp from 'fastify-plugin'
import { checkPlatform, namespaceConflict, platformDefaults, type Platform } from '../config.js'
import { ClientAmbiguous, ClientUnknown, IssuerUnknown } from '../errors.js'
import { REGISTRATIONS_MAP, type StoredRegistration } from '../lib/registration.js'

export interface Platforms {
  /** The platforms of the configuration (file and environment), read once at start. */
  readonly all: readonly Platform[]
  /**
   * The registration of an issuer: the configuration's first (it wins on a
   * conflict), then those registered by URL, read from the store on every
   * call so that each replica sees a new one at once; else TOOL_AUTH_ISSUER_UNKNOWN.
   */
  get: (issuer: string) => Promise<Platform>
  /** Whether the configuration (not the store) registers this issuer. */
  configured: (issuer: string) => boolean
  /** The registrations made by URL, as stored. */
  registered: () => Promise<StoredRegistration[]>
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

/** The platform registrations (many issuers, each with its client ids): the configuration's, then the store's. */
export default fp(async function platformsPlugin (fastify) {
  const byIssuer = new Map(fastify.config.platforms.map((platform) => [platform.issuer, platform]))
  const { store, log } = fastify
  const defaults = platformDefaults(fastify.config)
  fastify.decorate('platforms', {
    all: fastify.config.platforms,
    async get (issuer: string): Promise<Platform> {
      const platform = byIssuer.get(issuer)
      if (platform !== undefined) return platform
      if (fastify.config.DYNAMIC_REGISTRATION === 'off') throw new IssuerUnknown(issuer)
      const stored = await store.mapGet<StoredRegistration>(REGISTRATIONS_MAP, issuer)
      if (stored === undefined) throw new IssuerUnknown(issuer)
      // The same checks as a file entry, so a stored record cannot carry what the file would refuse.
      const problems: string[] = []
      const checked = checkPlatform(stored, `registration of ${issuer}`, problems, defaults)
      if (checked === undefined) {
        log.error({ issuer, problems }, 'a stored registration is invalid; remove it and register the platform again')
        throw new IssuerUnknown(issuer)
      }
      // The configuration may have gained a platform whose names meet this one's since it registered.
      const conflict = namespaceConflict(checked, fastify.config.platforms)
      if (conflict !== undefined) {
        log.error({ issuer, conflict: conflict.issuer }, 'a registration by URL can produce the usernames of a configured platform; give one of them another username_prefix')
        throw new IssuerUnknown(issuer)
      }
      return checked
    },
    configured: (issuer: string) => byIssuer.has(issuer),
    async registered (): Promise<StoredRegistration[]> {
      return Object.values(await store.mapAll<StoredRegistration>(REGISTRATIONS_MAP))
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
