import { BaseConfigProperties, ConfigError, loadConfig } from '@ltilaunch/service-kit'
import { Type, type Static } from 'typebox'

const Bool = (defaultValue: boolean, description: string) => Type.Boolean({ default: defaultValue, description })

/** The environment this service reads; see the README's configuration reference. */
export const BrokerConfigSchema = Type.Object({
  ...BaseConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3002, description: 'port to listen on' }),

  // Intake
  BROKER_SERVICE_TOKEN: Type.String({ minLength: 16, description: 'bearer token tool-auth sends to POST /v1/launches (at least 16 characters)' }),

  // Image policy
  IMAGE_POLICY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'a JSON or YAML file: {allowed, patterns?, default?, staffOnly?, learnerImages?}' })),
  ALLOWED_IMAGES: Type.Optional(Type.String({ description: 'comma list of images, or of alias=image entries (like DockerSpawner allowed_images)' })),
  IMAGE_PATTERNS: Type.Optional(Type.String({ description: 'whitespace-separated regexes (anchored) of further allowed images' })),
  DEFAULT_IMAGE: Type.Optional(Type.String({ description: 'the image of a launch that names none (default: the first allowed image)' })),
  STAFF_ONLY_IMAGES: Type.Optional(Type.String({ description: 'whitespace-separated images, aliases or /regexes/ only staff may start' })),
  LEARNER_IMAGES: Type.Union([Type.Literal('any'), Type.Literal('allowed'), Type.Literal('course')], {
    default: 'any',
    description: 'any: learners may start whatever the policy allows (but staff-only images); allowed (or course): only the allowed list, patterns are for staff'
  }),

  // Spawning
  SPAWN_DRIVER: Type.Optional(Type.Union([Type.Literal('dry-run'), Type.Literal('jupyterhub')], { description: 'dry-run (default without HUB_URL) or jupyterhub' })),
  HUB_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'the hub as the broker reaches it, such as http://127.0.0.1:8000 (API at /hub/api)' })),
  HUB_PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'the hub as browsers reach it (default HUB_URL)' })),
  HUB_API_TOKEN: Type.Optional(Type.String({ minLength: 8, description: 'the hub API token of the broker service (or HUB_API_TOKEN_FILE)' })),
  HUB_NAMED_SERVERS: Bool(false, 'one named server per course (the hub needs allow_named_servers); false: the default server'),
  HUB_USER_OPTIONS_FORM: Type.Union([Type.Literal('dockerspawner'), Type.Literal('kubespawner')], {
    default: 'dockerspawner',
    description: 'how user_options carry the image: dockerspawner {image} or kubespawner {profile, <option>, <option>--unlisted-choice}'
  }),
  HUB_KUBESPAWNER_PROFILE: Type.Optional(Type.String({ minLength: 1, description: 'kubespawner: the profile slug to start' })),
  HUB_KUBESPAWNER_IMAGE_OPTION: Type.String({ minLength: 1, default: 'image', description: 'kubespawner: the profile option that chooses the image' }),
  HUB_KUBESPAWNER_CHOICES: Type.Optional(Type.String({ description: 'kubespawner: comma list of image=choice-slug for images listed as choices of the option' })),
  ON_IMAGE_CHANGE: Type.Union([Type.Literal('restart'), Type.Literal('new-server')], {
    default: 'restart',
    description: 'a running server with another image: restart it, or start another named server'
  }),
  HUB_SYNC_ADMIN: Bool(false, 'make the hub admin flag follow the launch (isAdmin)'),
  HUB_SYNC_GROUPS: Bool(false, 'add the user to the hub groups of its role (and course, see HUB_COURSE_GROUPS)'),
  HUB_STAFF_GROUP: Type.String({ minLength: 1, default: 'staff', description: 'hub group of staff' }),
  HUB_LEARNER_GROUP: Type.String({ minLength: 1, default: 'learner', description: 'hub group of learners' }),
  HUB_COURSE_GROUPS: Bool(false, 'also add the user to a group named after the course (course-<slug>)'),
  SPAWN_TIMEOUT: Type.Integer({ minimum: 1, default: 300, description: 'seconds a spawn may take before the launch fails' }),
  HUB_REQUEST_TIMEOUT: Type.Integer({ minimum: 1, default: 15, description: 'seconds one hub API request may take' }),
  HUB_RETRIES: Type.Integer({ minimum: 0, maximum: 20, default: 4, description: 'retries of a hub request after a 5xx, a timeout or a connection error' }),
  DRY_RUN_STEP_MS: Type.Integer({ minimum: 0, default: 300, description: 'dry-run: the pause between its progress messages' }),
  HUB_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: 500, description: 'first retry delay; doubles each try, with jitter' }),

  // Records and the work queue
  LAUNCH_TTL: Type.Integer({ minimum: 60, default: 86400, description: 'seconds a launch record (and its idempotency key) lives' }),
  QUEUE_STREAM: Type.String({ minLength: 1, default: 'launches', description: 'name of the Redis Stream (under REDIS_KEY_PREFIX)' }),
  QUEUE_GROUP: Type.String({ minLength: 1, default: 'spawners', description: 'consumer group of the brokers' }),
  QUEUE_CLAIM_IDLE_MS: Type.Integer({ minimum: 200, default: 30000, description: 'a dead broker\'s launches are claimed by another after this long' }),
  QUEUE_MAX_DELIVERIES: Type.Integer({ minimum: 1, default: 5, description: 'a launch taken up this many times without finishing fails' }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 0, maximum: 256, default: 8, description: 'spawns one process runs at once (0: intake only, no worker)' }),
  PROGRESS_POLL_MS: Type.Integer({ minimum: 50, default: 200, description: 'how often the progress stream looks at the launch record (the page learns of ready up to this late)' })
})

export type BrokerConfig = Static<typeof BrokerConfigSchema> & { SPAWN_DRIVER: 'dry-run' | 'jupyterhub' }

export function readConfig (env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const config = loadConfig(BrokerConfigSchema, env)
  const problems: string[] = []
  const driver = config.SPAWN_DRIVER ?? (config.HUB_URL ? 'jupyterhub' : 'dry-run')
  if (driver === 'jupyterhub') {
    if (!config.HUB_URL) problems.push('HUB_URL is required when SPAWN_DRIVER=jupyterhub')
    if (!config.HUB_API_TOKEN) problems.push('HUB_API_TOKEN (or HUB_API_TOKEN_FILE) is required when SPAWN_DRIVER=jupyterhub')
  }
  if (!config.IMAGE_POLICY_FILE && !config.ALLOWED_IMAGES && !config.IMAGE_PATTERNS) {
    problems.push('IMAGE_POLICY_FILE, ALLOWED_IMAGES or IMAGE_PATTERNS is required (which images may a launch start?)')
  }
  if (config.IMAGE_POLICY_FILE && (config.ALLOWED_IMAGES || config.IMAGE_PATTERNS)) {
    problems.push('IMAGE_POLICY_FILE and ALLOWED_IMAGES/IMAGE_PATTERNS are both set; use one or the other')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return { ...config, SPAWN_DRIVER: driver }
}
