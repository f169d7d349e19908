import { BaseConfigProperties, ConfigError, loadConfig } from '@ltilaunch/service-kit'
import { Type, type Static } from 'typebox'
import { parseApiKeyHashes } from './lib/api-keys.js'
import { parseKeyList, parsePrivateKey, type PublicKeyEntry, type SigningKey } from './lib/keys.js'
import { parseRegistrations, type Registration } from './lib/registrations.js'
import { directoryUsernameProblems, parseDirectory, type Directory } from './lib/users.js'

const Seconds = (fallback: number, description: string) =>
  Type.Integer({ minimum: 10, maximum: 86400, default: fallback, description })

/**
 * The environment this service reads; see the README's configuration
 * reference. Every `NAME` below may instead be given as `NAME_FILE`, a file
 * holding the value (the kit reads it), which is how the registrations,
 * users, keys and secrets are usually given.
 */
export const PlatformConfigSchema = Type.Object({
  ...BaseConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'port to listen on' }),
  PLATFORM_ISSUER: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'the iss of every id_token (default PUBLIC_URL)' })),
  PLATFORM_NAME: Type.String({ default: 'ltilaunch platform', description: 'the platform name shown to people and sent in tool_platform' }),
  PLATFORM_GUID: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'tool_platform.guid (default derived from the issuer)' })),
  PLATFORM_TOOLS: Type.Optional(Type.String({ description: 'tool registrations, JSON or YAML (usually PLATFORM_TOOLS_FILE)' })),
  PLATFORM_USERS: Type.Optional(Type.String({ description: 'demo users and courses, JSON or YAML (usually PLATFORM_USERS_FILE)' })),
  PLATFORM_SIGNING_KEY: Type.Optional(Type.String({ description: 'PEM private key that signs id_tokens (RSA: RS256, EC P-256: ES256)' })),
  PLATFORM_NEXT_KEY: Type.Optional(Type.String({ description: 'PEM key published in the JWKS before it signs' })),
  PLATFORM_RETIRED_KEYS: Type.Optional(Type.String({ description: 'PEM keys still published after they stopped signing' })),
  PLATFORM_KEY_DIR: Type.String({ default: '.ltilaunch/platform', description: 'where a development key and secrets are generated and kept' }),
  PLATFORM_API_KEYS: Type.Optional(Type.String({ description: 'hashes (sha256:<hex>) of the launch API keys, comma or newline separated' })),
  PLATFORM_SESSION_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'signs session cookies (at least 32 characters)' })),
  PLATFORM_SUBJECT_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'keys the HMAC that makes sub and login_hint opaque (at least 32 characters)' })),
  PLATFORM_SUBJECT: Type.Union([Type.Literal('opaque'), Type.Literal('id')], {
    default: 'opaque',
    description: 'opaque: sub is an HMAC of the user id; id: sub is the user id itself'
  }),
  PLATFORM_SESSION_TTL: Seconds(28800, 'how long a demo sign-in lasts, in seconds'),
  ID_TOKEN_TTL: Seconds(300, 'id_token lifetime (exp - iat), in seconds'),
  MESSAGE_HINT_TTL: Seconds(300, 'how long a started launch waits for the tool, in seconds'),
  LAUNCH_URL_TTL: Seconds(60, 'how long a one-time launch URL from the launch API lasts, in seconds'),
  NONCE_TTL: Seconds(86400, 'how long a nonce is remembered per client, in seconds'),
  REGISTRATION_TOKEN_TTL: Seconds(3600, 'how long a registration token for a tool registering by URL lasts, in seconds'),
  DEEP_LINK_TTL: Seconds(1800, 'how long a deep linking request waits for the tool\'s answer (the instructor choosing), in seconds'),
  PLATFORM_STORAGE: Type.Boolean({ default: true, description: 'a page that frames a tool offers it postMessage storage (lti_storage_target, lti.put_data, lti.get_data)' }),
  PLATFORM_STORAGE_TTL: Seconds(600, "how long a framed tool's values are kept in the page's storage, in seconds"),
  PLATFORM_ACCESS_TOKEN_TTL: Seconds(3600, 'how long an access token for the LTI services (grades, rosters) from /lti/token lasts, in seconds'),
  PLATFORM_SCORE_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'a host site URL that receives every accepted score, signed (POST, JSON)' })),
  PLATFORM_SCORE_WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'keys the HMAC-SHA256 signature of the score webhook (at least 32 characters)' })),
  PLATFORM_SCORE_WEBHOOK_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 10, description: 'how many times a score is offered to the webhook before it is given up' }),
  PLATFORM_SCORE_WEBHOOK_BACKOFF: Type.Integer({ minimum: 1, maximum: 3600, default: 5, description: 'the first retry delay of the score webhook, in seconds; it doubles each attempt (at most an hour)' })
})

export type PlatformEnv = Static<typeof PlatformConfigSchema>

/** The validated environment plus what it names, parsed: every problem is found at start. */
export interface PlatformConfig extends PlatformEnv {
  /** The issuer (iss) of every id_token. */
  issuer: string
  /** Where browsers reach this service; the endpoints are under it. */
  publicUrl: string
  tools: Registration[]
  directory: Directory
  /** sha256 digests of the launch API keys. */
  apiKeyHashes: Buffer[]
  signingKey?: SigningKey
  nextKey?: PublicKeyEntry
  retiredKeys: PublicKeyEntry[]
}

const trimSlash = (url: string): string => url.replace(/\/+$/, '')

export function readConfig (env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const values = loadConfig(PlatformConfigSchema, env)
  const problems: string[] = []
  const collect = <T>(name: string, fn: () => T, fallback: T): T => {
    try {
      return fn()
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`)
      return fallback
    }
  }
  const publicUrl = trimSlash(values.PUBLIC_URL ?? values.PLATFORM_ISSUER ?? `http://localhost:${values.PORT === 0 ? 3000 : values.PORT}`)
  const issuer = trimSlash(values.PLATFORM_ISSUER ?? publicUrl)
  const tools = collect('PLATFORM_TOOLS', () => parseRegistrations(values.PLATFORM_TOOLS), [])
  const directory = collect('PLATFORM_USERS', () => parseDirectory(values.PLATFORM_USERS), { users: [], courses: [] })
  for (const problem of directoryUsernameProblems(directory, values.PLATFORM_SUBJECT)) problems.push(`PLATFORM_USERS: ${problem}`)
  const apiKeyHashes = collect('PLATFORM_API_KEYS', () => parseApiKeyHashes(values.PLATFORM_API_KEYS), [])
  const signingKey = values.PLATFORM_SIGNING_KEY === undefined
    ? undefined
    : collect('PLATFORM_SIGNING_KEY', () => parsePrivateKey(values.PLATFORM_SIGNING_KEY as string), undefined)
  const nextKeys = collect('PLATFORM_NEXT_KEY', () => parseKeyList(values.PLATFORM_NEXT_KEY), [])
  if (nextKeys.length > 1) problems.push('PLATFORM_NEXT_KEY: give one key (the one that will sign next)')
  const retiredKeys = collect('PLATFORM_RETIRED_KEYS', () => parseKeyList(values.PLATFORM_RETIRED_KEYS), [])
  if ((values.PLATFORM_SCORE_WEBHOOK_URL === undefined) !== (values.PLATFORM_SCORE_WEBHOOK_SECRET === undefined)) {
    problems.push('PLATFORM_SCORE_WEBHOOK_URL and PLATFORM_SCORE_WEBHOOK_SECRET: give both (the receiver checks the signature) or neither')
  }
  if (problems.length > 0) throw new ConfigError(problems)

  const config: PlatformConfig = { ...values, issuer, publicUrl, tools, directory, apiKeyHashes, retiredKeys }
  if (signingKey !== undefined) config.signingKey = signingKey
  if (nextKeys[0] !== undefined) config.nextKey = nextKeys[0]
  return config
}
