import { createHash, createHmac } from 'node:crypto'
import fp from 'fastify-plugin'
import type { PlatformIdentity } from '../lib/launch.js'
import type { Registration } from '../lib/registrations.js'
import type { Course, DirectoryUser } from '../lib/users.js'

const VERSION = '0.1.0'

export interface Registry {
  identity: PlatformIdentity
  tools: Registration[]
  tool: (clientId: string) => Registration | undefined
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

/** Tools, courses and users from the config, and who the platform is. */
export default fp(async function registryPlugin (fastify) {
  const config = fastify.config
  const tools = new Map(config.tools.map((tool) => [tool.clientId, tool]))
  const courses = new Map(config.directory.courses.map((course) => [course.id, course]))
  const users = new Map(config.directory.users.map((user) => [user.username, user]))
  const guid = config.PLATFORM_GUID ?? createHash('sha256').update(`ltilaunch-platform:${config.issuer}`).digest('hex').slice(0, 32)
  if (tools.size === 0) fastify.log.warn('no tool registrations (PLATFORM_TOOLS_FILE): nothing can be launched')

  fastify.decorate('registry', {
    identity: { guid, name: config.PLATFORM_NAME, version: VERSION, url: `${config.publicUrl}/` },
    tools: [...tools.values()],
    tool: (clientId: string) => tools.get(clientId),
    courses: [...courses.values()],
    course: (id: string) => courses.get(id),
    user: (username: string) => users.get(username.toLowerCase()),
    subjectFor: (localId: string) => config.PLATFORM_SUBJECT === 'id'
      ? localId
      : createHmac('sha256', fastify.keys.subjectSecret).update(`sub:${localId}`).digest('base64url')
  })
}, { name: 'platform-registry', fastify: '5.x', dependencies: ['platform-keys'] })
