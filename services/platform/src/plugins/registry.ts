import { createHash, createHmac } from 'node:crypto'
import fp from 'fastify-plugin'
import type { PlatformIdentity } from '../lib/launch.js'
import { REGISTERED_TOOLS_MAP, registrationOf, type Registration, type StoredTool } from '../lib/registrations.js'
import type { Course, DirectoryUser } from '../lib/users.js'

const VERSION = '0.1.0'

export interface Registry {
  identity: PlatformIdentity
  /** The tools of the registrations file. */
  tools: Registration[]
  /**
   * A tool by client id: the registrations file first (it wins on a
   * conflict), then the tools registered by URL, read from the store on
   * every call so that every replica sees a new one at once.
   */
  tool: (clientId: string) => Promise<Registration | undefined>
  /** Every tool: the file's, then those registered by URL. */
  allTools: () => Promise<Registration[]>
  /** The tools registered by URL, as stored. */
  registered: () => Promise<StoredTool[]>
  courses: Course[]
  course: (id: string) => Course | undefined
  user: (username: string) => DirectoryUser | undefined
  /**
   * The stable, opaque sub (and login_hint) of an issuer-local user id:
   * HMAC-SHA256 under PLATFORM_SUBJECT_SECRET, so that it cannot be guessed
   * from a username and does not change across restarts or replicas.
   */
  subjectFor: (localId: string) => string
}

declare module 'fastify' {
  interface FastifyInstance {
    registry: Registry
  }
}

/** Tools, courses and users from the config (and tools registered by URL, from the store), and who the platform is. */
export default fp(async function registryPlugin (fastify) {
  const { config, store, log } = fastify
  const tools = new Map(config.tools.map((tool) => [tool.clientId, tool]))
  const courses = new Map(config.directory.courses.map((course) => [course.id, course]))
  const users = new Map(config.directory.users.map((user) => [user.username, user]))
  const guid = config.PLATFORM_GUID ?? createHash('sha256').update(`ltilaunch-platform:${config.issuer}`).digest('hex').slice(0, 32)
  if (tools.size === 0) fastify.log.warn('no tool registrations (PLATFORM_TOOLS_FILE): nothing can be launched until a tool registers by URL')

  const checked = (clientId: string, stored: StoredTool): Registration | undefined => {
    try {
      return registrationOf(stored)
    } catch (err) {
      log.error({ clientId, reason: (err as Error).message }, 'a tool registered by URL is invalid; it is ignored')
      return undefined
    }
  }
  const registered = async (): Promise<StoredTool[]> => Object.values(await store.mapAll<StoredTool>(REGISTERED_TOOLS_MAP))

  fastify.decorate('registry', {
    identity: { guid, name: config.PLATFORM_NAME, version: VERSION, url: `${config.publicUrl}/` },
    tools: [...tools.values()],
    async tool (clientId: string): Promise<Registration | undefined> {
      const configured = tools.get(clientId)
      if (configured !== undefined) return configured
      const stored = await store.mapGet<StoredTool>(REGISTERED_TOOLS_MAP, clientId)
      return stored === undefined ? undefined : checked(clientId, stored)
    },
    async allTools (): Promise<Registration[]> {
      const dynamic = (await registered())
        .filter((stored) => !tools.has(stored.tool.client_id))
        .map((stored) => checked(stored.tool.client_id, stored))
        .filter((tool): tool is Registration => tool !== undefined)
      return [...tools.values(), ...dynamic]
    },
    registered,
    courses: [...courses.values()],
    course: (id: string) => courses.get(id),
    user: (username: string) => users.get(username.toLowerCase()),
    subjectFor: (localId: string) => config.PLATFORM_SUBJECT === 'id'
      ? localId
      : createHmac('sha256', fastify.keys.subjectSecret).update(`sub:${localId}`).digest('base64url')
  })
}, { name: 'platform-registry', fastify: '5.x', dependencies: ['platform-keys'] })
