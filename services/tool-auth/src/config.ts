import { readFileSync } from 'node:fs'
import { namespacesOverlap, type NameSpace } from '@ltilaunch/claims'
import { BaseConfigProperties, ConfigError, isHttpUrl, loadConfig, parseStructured, splitList } from '@ltilaunch/service-kit'
import { Type, type Static } from 'typebox'

/**
 * The environment this service reads; see the README's configuration reference.
 *
 * Naming: the settings that jupyterhub-ltiauthenticator has keep its trait
 * names as they are, lower case (`issuer`, `client_id`, `username_key`, ...),
 * so a hub's existing values carry over; ltilaunch's own settings are upper case.
 */
export const ToolAuthConfigSchema = Type.Object({
  ...BaseConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3001, description: 'port to listen on' }),

  // One platform, with ltiauthenticator's names.
  issuer: Type.Optional(Type.String({ minLength: 1, description: 'the platform issuer (one platform; PLATFORMS_FILE for several)' })),
  client_id: Type.Optional(Type.String({ minLength: 1, description: 'comma list of the client ids the platform gave this tool' })),
  authorize_url: Type.Optional(Type.String({ pattern: '^https?://', description: "the platform's OIDC authorization endpoint" })),
  jwks_endpoint: Type.Optional(Type.String({ pattern: '^https?://', description: "the platform's JWKS URL" })),
  deployment_ids: Type.Optional(Type.String({ description: 'comma list of accepted deployment ids (empty: any)' })),
  token_url: Type.Optional(Type.String({ pattern: '^https?://', description: "the platform's OAuth2 token URL (grades and rosters: LTI Advantage services)" })),
  token_audience: Type.Optional(Type.String({ minLength: 1, description: "the aud of the tool's client assertion, where the platform wants another than token_url (Brightspace)" })),
  service_hosts: Type.Optional(Type.String({ description: "comma list of further hosts the platform's service URLs (line items, memberships) may be on (host, host:port or *.domain)" })),
  PLATFORMS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'JSON or YAML file listing platforms [{issuer, client_ids, authorize_url, jwks_endpoint, token_url?, token_audience?, service_hosts?, deployment_ids?, username_key?, username_prefix?, username_suffix?, admin_roles?, roster_sync?}]' })),
  USERNAME_PREFIX: Type.String({ default: '', maxLength: 64, description: 'text put before every username (and course group) from the platform set by issuer/client_id/...' }),
  USERNAME_SUFFIX: Type.String({ default: '', maxLength: 64, description: 'text put after every username (and course group) from the platform set by issuer/client_id/...' }),

  // ltiauthenticator's options.
  username_key: Type.String({ default: 'email', description: 'claim that gives the username (custom_ prefix reads the custom claim; sub is the fallback)' }),
  time_leeway: Type.Integer({ minimum: 0, maximum: 3600, default: 10, description: 'seconds of clock difference allowed on exp, iat, nbf and max_age (default 10: an LMS clock a few seconds ahead must not fail launches)' }),
  max_age: Type.Integer({ minimum: 1, maximum: 86400, default: 600, description: 'oldest id_token (by iat) accepted, in seconds' }),
  uri_scheme: Type.Union([Type.Literal('auto'), Type.Literal('http'), Type.Literal('https')], { default: 'auto', description: 'scheme of the URLs this tool derives from requests: auto, http or https' }),
  tool_name: Type.String({ default: 'JupyterHub', description: 'title in /lti13/config' }),
  tool_description: Type.String({ default: 'Launch your own JupyterHub notebook server from your course', description: 'description in /lti13/config' }),

  STAFF_ROLES: Type.Optional(Type.String({ description: 'comma list of roles that make a user staff (default: @ltilaunch/claims DEFAULT_STAFF_ROLES)' })),
  ADMIN_ROLES: Type.Optional(Type.String({ description: 'comma list of roles that make a user a hub admin, for platforms without their own admin_roles (default: none; no LTI role makes an admin)' })),
  ALLOWED_HOSTS: Type.Optional(Type.String({ description: 'comma list of hosts (host or host:port) that target_link_uri and next may point to; default the PUBLIC_URL host' })),
  JWKS_MAX_AGE: Type.Integer({ minimum: 1, default: 600, description: "seconds before a platform's cached JWKS is refetched (a failed refetch keeps the cached keys)" }),
  JWKS_COOLDOWN: Type.Integer({ minimum: 0, default: 30, description: 'seconds after a JWKS fetch during which an unknown kid does not refetch' }),
  ID_TOKEN_ALGORITHMS: Type.String({ default: 'RS256', description: 'comma list of asymmetric JWS algorithms accepted for id_tokens' }),

  BROKER_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'the spawner-broker (without it, launches only sign the user in)' })),
  BROKER_SERVICE_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'bearer token for the broker' })),
  BROKER_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'how long a broker call may take' }),

  // Rosters (NRPS): off unless asked for, globally or per platform (roster_sync in PLATFORMS_FILE).
  ROSTER_SYNC: Type.Boolean({ default: false, description: "read each course's roster with NRPS on a staff launch (and on demand), and have the broker create the hub users and course groups" }),
  ROSTER_SYNC_INTERVAL: Type.Integer({ minimum: 60, maximum: 604800, default: 900, description: 'seconds during which a course is not synced again after a sync began' }),
  ROSTER_SYNC_TIMEOUT: Type.Integer({ minimum: 10, maximum: 7200, default: 600, description: "seconds a sync may run; the course's lock expires then, should the replica running it die" }),
  ROSTER_MAX_PAGES: Type.Integer({ minimum: 1, maximum: 10000, default: 200, description: 'most NRPS pages read in one sync' }),
  NRPS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 15000, description: "how long one request of the platform's memberships service may take" }),
  ROSTER_BROKER_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 120000, description: 'how long the broker may take to apply one roster batch to the hub' }),

  HUB_URL: Type.Optional(Type.String({ pattern: '^https?://', description: "the hub's public URL, linked from the page a launch without a spawn lands on" })),
  OAUTH_CLIENTS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'JSON file of OAuth clients [{client_id, client_secret, redirect_uris}]' })),
  HUB_CLIENT_ID: Type.Optional(Type.String({ minLength: 1, description: "the hub's OAuth client id" })),
  HUB_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 16, description: "the hub's OAuth client secret" })),
  HUB_REDIRECT_URI: Type.Optional(Type.String({ pattern: '^https?://', description: "the hub's oauth_callback_url" })),

  SESSION_TTL: Type.Integer({ minimum: 60, default: 28800, description: 'seconds a launch session lasts' }),
  ACCESS_TOKEN_TTL: Type.Integer({ minimum: 60, default: 3600, description: 'seconds an access token lasts' }),
  REFRESH_TOKEN_TTL: Type.Integer({ minimum: 60, default: 1209600, description: 'seconds a refresh token lasts' }),
  AUTH_CODE_TTL: Type.Integer({ minimum: 1, maximum: 600, default: 60, description: 'seconds an authorization code lasts' }),
  STATE_TTL: Type.Integer({ minimum: 30, maximum: 3600, default: 600, description: 'seconds between login initiation and callback' }),
  DEEP_LINK_TTL: Type.Integer({ minimum: 60, maximum: 86400, default: 1800, description: 'seconds an instructor has to submit the deep linking picker' }),
  ALLOW_UNBOUND_LAUNCH: Type.Boolean({ default: false, description: 'accept a callback that neither the state cookie nor platform storage ties to the browser that began the launch (login CSRF: an opt-out for old browsers, never the default)' }),
  PLATFORM_STORAGE_TIMEOUT_MS: Type.Integer({ minimum: 500, maximum: 30000, default: 5000, description: "how long the login and callback pages wait for each answer of the platform's postMessage storage" }),

  TOOL_KEY: Type.Optional(Type.String({ minLength: 1, description: "the tool's private signing key (PKCS#8 PEM); TOOL_KEY_FILE to read it from a file" })),
  TOOL_KEY_DIR: Type.String({ default: '.ltilaunch/tool-auth', description: 'where a development key is generated and kept when TOOL_KEY is unset' }),

  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 3000, description: 'browser requests (login initiation, callback) per client address per RATE_LIMIT_WINDOW (0: off)' }),
  RATE_LIMIT_WINDOW: Type.Integer({ minimum: 1, maximum: 3600, default: 60, description: 'seconds over which the rate limits count' }),
  CLIENT_AUTH_FAILURE_MAX: Type.Integer({ minimum: 0, default: 30, description: 'failed client authentications at the token endpoint per client id and address per RATE_LIMIT_WINDOW (0: off)' }),
  // LTI Dynamic Registration (register by URL).
  DYNAMIC_REGISTRATION: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: 'on: platforms may register by URL at /lti13/register, with a one-time link or REGISTRATION_SECRET' }),
  REGISTRATION_SECRET: Type.Optional(Type.String({ minLength: 16, description: 'an operator secret that authorizes a registration on the confirmation page (without it, only one-time links do)' })),
  REGISTRATION_LINK_TTL: Type.Integer({ minimum: 60, maximum: 2592000, default: 604800, description: 'seconds a one-time registration link lasts' }),
  REGISTRATION_SHARED_ISSUERS: Type.Optional(Type.String({ description: 'comma list of issuers that may register from a configuration on another host (Canvas cloud: https://canvas.instructure.com)' })),
  REGISTRATION_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 10000, description: "how long a call to a registering platform's configuration or registration endpoint may take" }),

  // LTI Advantage services (grades from notebooks).
  PLATFORM_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 10000, description: "how long a call to a platform's token, line item or score endpoint may take" }),
  LAUNCH_SERVICES_TTL: Type.Integer({ minimum: 3600, default: 2592000, description: "seconds a launch's grade and roster endpoints are kept (per user and course, renewed by each launch)" }),
  HUB_API_URL: Type.Optional(Type.String({ pattern: '^https?://', description: "the hub's REST API (http://hub:8081/hub/api), where a notebook's token is checked; without it the scores API is off" })),
  HUB_TOKEN_CACHE_SECONDS: Type.Integer({ minimum: 0, maximum: 600, default: 60, description: "seconds the hub's answer for a notebook token is cached (by its hash)" }),
  SCORE_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 8, description: 'times a score is tried at the platform before it is failed' }),
  SCORE_RETRY_BASE_MS: Type.Integer({ minimum: 0, default: 15000, description: 'the first retry delay of a score; each next one doubles, up to SCORE_RETRY_MAX_MS' }),
  SCORE_RETRY_MAX_MS: Type.Integer({ minimum: 0, default: 600000, description: 'the longest retry delay of a score' }),
  SCORE_CLAIM_IDLE_MS: Type.Integer({ minimum: 200, default: 15000, description: "a stopped replica's queued scores are taken up by another after this long; also the shortest retry delay" }),
  SCORE_WORKER_CONCURRENCY: Type.Integer({ minimum: 0, maximum: 256, default: 4, description: 'scores posted at once by each replica (0: this replica posts none)' }),
  SCORE_RECORD_TTL: Type.Integer({ minimum: 3600, default: 1209600, description: "seconds a score's state (GET /scores/:id) is kept" })
})

export type ToolAuthEnv = Static<typeof ToolAuthConfigSchema>

/** A platform registration: who may launch this tool, and how to check them. */
export interface Platform {
  issuer: string
  clientIds: string[]
  authorizeUrl: string
  jwksEndpoint: string
  /** Empty: every deployment is accepted. */
  deploymentIds: string[]
  /** The claim that gives this platform's usernames (ltiauthenticator's username_key); the global one when unset. */
  usernameKey: string
  /** Added to every username and course group from this platform, so that two platforms cannot produce one name. */
  namespace: NameSpace
  /** Roles that make a hub admin; empty means no LTI role does. */
  adminRoles: string[]
  /** Whether this platform's course rosters are synced (roster_sync); unset: ROSTER_SYNC decides. */
  rosterSync?: boolean
  /** The platform's OAuth2 token URL (LTI Advantage services); absent: the tool calls none. */
  tokenUrl?: string
  /** The client assertion's aud where it is not the token URL. */
  tokenAudience?: string
  /**
   * Lower-cased hosts (host[:port], or *.domain) the platform's service URLs
   * may be on, besides those of its issuer and endpoints: a launch may only
   * send the tool (and its token) to URLs its platform vouches for.
   */
  serviceHosts: string[]
}

/** An OAuth client of this authorization server (the hub). */
export interface OAuthClient {
  clientId: string
  clientSecret: string
  redirectUris: string[]
}

export interface ToolAuthConfig extends ToolAuthEnv {
  platforms: Platform[]
  oauthClients: OAuthClient[]
  /** Lower-cased hosts (host or host:port); empty means "the host the request came to". */
  allowedHosts: string[]
  idTokenAlgorithms: string[]
  /** Issuers exempt from the registration's issuer-host rule (an LMS whose instances share one issuer). */
  registrationSharedIssuers: string[]
  staffRoles?: string[]
}

/** Asymmetric JWS algorithms; HMAC and `none` are never accepted for id_tokens. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

export function readConfig (env: NodeJS.ProcessEnv = process.env): ToolAuthConfig {
  // ltiauthenticator's uri_scheme is case-insensitive ("Https" means https).
  const normalized = env.uri_scheme === undefined ? env : { ...env, uri_scheme: env.uri_scheme.toLowerCase() }
  const base = loadConfig(ToolAuthConfigSchema, normalized)
  const problems: string[] = []
  const platforms = readPlatforms(base, problems, base.DYNAMIC_REGISTRATION === 'on')
  const oauthClients = readOAuthClients(base, problems)

  const idTokenAlgorithms = splitList(base.ID_TOKEN_ALGORITHMS)
  for (const alg of idTokenAlgorithms) {
    if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      problems.push(`ID_TOKEN_ALGORITHMS: ${alg} is not accepted; use asymmetric algorithms only (${ASYMMETRIC_ALGORITHMS.join(', ')})`)
    }
  }
  if (idTokenAlgorithms.length === 0) problems.push('ID_TOKEN_ALGORITHMS must name at least one algorithm')

  if (base.BROKER_URL !== undefined && base.BROKER_SERVICE_TOKEN === undefined) {
    problems.push('BROKER_SERVICE_TOKEN is required with BROKER_URL (the broker refuses calls without it)')
  }

  let allowedHosts = splitList(base.ALLOWED_HOSTS).map((host) => host.toLowerCase())
  if (allowedHosts.length === 0 && base.PUBLIC_URL !== undefined) allowedHosts = [new URL(base.PUBLIC_URL).host.toLowerCase()]

  if (problems.length > 0) throw new ConfigError(problems)
  const registrationSharedIssuers = splitList(base.REGISTRATION_SHARED_ISSUERS)
  for (const issuer of registrationSharedIssuers) {
    if (!isHttpUrl(issuer)) problems.push(`REGISTRATION_SHARED_ISSUERS: ${issuer} is not an http(s) URL`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const config: ToolAuthConfig = { ...base, platforms, oauthClients, allowedHosts, idTokenAlgorithms, registrationSharedIssuers }
  if (base.STAFF_ROLES !== undefined) config.staffRoles = splitList(base.STAFF_ROLES)
  return config
}

/** Reads a JSON or YAML settings file; a fault becomes a problem naming the variable. */
function readDocumentFile (name: string, path: string, problems: string[]): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    problems.push(`${name}: ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
    return undefined
  }
  try {
    return parseStructured(text)
  } catch (err) {
    problems.push(`${name}: ${path}: ${(err as Error).message}`)
    return undefined
  }
}

/** A list from a JSON array or a comma string; non-strings make it invalid. */
function stringList (value: unknown): string[] | undefined {
  if (value === undefined || value === null) return []
  if (typeof value === 'string') return splitList(value)
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string' || typeof entry === 'number')) {
    return value.map((entry) => String(entry).trim()).filter((entry) => entry !== '')
  }
  return undefined
}

/** A namespace part: plain text without "/" or control characters, which no hub username may hold. */
function namespacePart (value: unknown, name: string, where: string, problems: string[]): string {
  if (value === undefined || value === null) return ''
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length > 64 || /[/\u0000-\u001f\u007f]/.test(value) || value !== value.trim()) {
    problems.push(`${where}: ${name} must be text of at most 64 characters, without "/", control characters or surrounding spaces`)
    return ''
  }
  return value
}

/** Defaults a platform entry falls back on: the global settings. */
export interface PlatformDefaults {
  usernameKey: string
  adminRoles: string[]
}

export function platformDefaults (env: ToolAuthEnv): PlatformDefaults {
  return { usernameKey: env.username_key, adminRoles: env.ADMIN_ROLES === undefined ? [] : splitList(env.ADMIN_ROLES) }
}

/** One platform entry, in the platforms file's shape; also reads the registrations made by URL. */
export function checkPlatform (raw: unknown, where: string, problems: string[], defaults: PlatformDefaults): Platform | undefined {
  if (typeof raw !== 'object' || raw === null) {
    problems.push(`${where}: a platform must be an object`)
    return undefined
  }
  const entry = raw as Record<string, unknown>
  const before = problems.length
  const issuer = typeof entry.issuer === 'string' ? entry.issuer.trim() : ''
  if (issuer === '') problems.push(`${where}: issuer is required`)
  const clientIds = stringList(entry.client_ids ?? entry.client_id)
  if (clientIds === undefined || clientIds.length === 0) problems.push(`${where}: client_ids must list at least one client id`)
  if (!isHttpUrl(entry.authorize_url)) problems.push(`${where}: authorize_url must be an http(s) URL`)
  if (!isHttpUrl(entry.jwks_endpoint)) problems.push(`${where}: jwks_endpoint must be an http(s) URL`)
  const deploymentIds = stringList(entry.deployment_ids)
  if (deploymentIds === undefined) problems.push(`${where}: deployment_ids must be a list of strings`)
  const usernameKey = entry.username_key ?? defaults.usernameKey
  if (typeof usernameKey !== 'string') problems.push(`${where}: username_key must be a claim name`)
  const adminRoles = entry.admin_roles === undefined ? defaults.adminRoles : stringList(entry.admin_roles)
  if (adminRoles === undefined) problems.push(`${where}: admin_roles must be a list of roles`)
  const tokenUrl = entry.token_url ?? entry.token_endpoint
  if (tokenUrl !== undefined && tokenUrl !== null && tokenUrl !== '' && !isHttpUrl(tokenUrl)) problems.push(`${where}: token_url must be an http(s) URL`)
  const tokenAudience = entry.token_audience
  if (tokenAudience !== undefined && tokenAudience !== null && (typeof tokenAudience !== 'string' || tokenAudience === '')) problems.push(`${where}: token_audience must be text`)
  const serviceHosts = stringList(entry.service_hosts)
  if (serviceHosts === undefined || serviceHosts.some((host) => !/^(\*\.)?[a-z0-9.-]+(:\d+)?$/i.test(host))) problems.push(`${where}: service_hosts must list hosts (host, host:port or *.domain)`)
  const namespace = {
    prefix: namespacePart(entry.username_prefix, 'username_prefix', where, problems),
    suffix: namespacePart(entry.username_suffix, 'username_suffix', where, problems)
  }
  const rosterSync = booleanSetting(entry.roster_sync)
  if (rosterSync === null) problems.push(`${where}: roster_sync must be true or false`)
  if (problems.length > before) return undefined
  return {
    ...(typeof rosterSync === 'boolean' ? { rosterSync } : {}),
    issuer,
    clientIds: clientIds ?? [],
    authorizeUrl: entry.authorize_url as string,
    jwksEndpoint: entry.jwks_endpoint as string,
    deploymentIds: deploymentIds ?? [],
    usernameKey: usernameKey as string,
    namespace,
    adminRoles: adminRoles ?? [],
    ...(isHttpUrl(tokenUrl) ? { tokenUrl } : {}),
    ...(typeof tokenAudience === 'string' && tokenAudience !== '' ? { tokenAudience } : {}),
    serviceHosts: (serviceHosts ?? []).map((host) => host.toLowerCase())
  }
}

/** A yes/no setting of a platforms file: a boolean or "true"/"false"; undefined when absent, null when neither. */
function booleanSetting (value: unknown): boolean | undefined | null {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean') return value
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true'
  return null
}

/** Describes a namespace for a message: `"canvas-" … ""`, or "no namespace". */
function describeNamespace (namespace: NameSpace): string {
  return namespace.prefix === '' && namespace.suffix === '' ? 'no namespace' : `username_prefix "${namespace.prefix}", username_suffix "${namespace.suffix}"`
}

const isPlain = (platform: Pick<Platform, 'namespace'>): boolean => platform.namespace.prefix === '' && platform.namespace.suffix === ''

/** Whether two platforms' usernames can meet, by the rule the start applies (one plain platform may stay). */
export function namesCanMeet (a: Pick<Platform, 'namespace'>, b: Pick<Platform, 'namespace'>): boolean {
  return isPlain(a) === isPlain(b) && namespacesOverlap(a.namespace, b.namespace)
}

/** The first of `others` (another issuer) whose usernames can meet this platform's, if any. */
export function namespaceConflict (platform: Platform, others: Iterable<Platform>): Platform | undefined {
  for (const other of others) {
    if (other.issuer !== platform.issuer && namesCanMeet(platform, other)) return other
  }
  return undefined
}

/**
 * Two platforms whose namespaces can produce the same username would hand
 * one hub account to two people: refused at start, naming both. One
 * platform may stay plain beside namespaced ones (an upgrade keeps its
 * users' names); a plain name that happens to begin with another
 * platform's prefix is then refused at launch by the username's binding,
 * never shared.
 */
function checkNamespaces (platforms: Platform[], problems: string[]): void {
  for (let i = 0; i < platforms.length; i++) {
    for (let j = i + 1; j < platforms.length; j++) {
      const [a, b] = [platforms[i] as Platform, platforms[j] as Platform]
      if (!namesCanMeet(a, b)) continue
      problems.push(
        `platforms ${a.issuer} (${describeNamespace(a.namespace)}) and ${b.issuer} (${describeNamespace(b.namespace)}) ` +
        'can produce the same usernames, so one person of each could share a hub account: give each its own ' +
        'username_prefix or username_suffix in PLATFORMS_FILE (USERNAME_PREFIX/USERNAME_SUFFIX for the issuer/client_id platform)'
      )
    }
  }
}

function readPlatforms (env: ToolAuthEnv, problems: string[], registerByUrl: boolean): Platform[] {
  const platforms: Platform[] = []
  const defaults = platformDefaults(env)
  if (env.PLATFORMS_FILE !== undefined) {
    const data = readDocumentFile('PLATFORMS_FILE', env.PLATFORMS_FILE, problems)
    const list = Array.isArray(data) ? data : (data as { platforms?: unknown } | undefined)?.platforms
    if (data !== undefined && !Array.isArray(list)) {
      problems.push('PLATFORMS_FILE: expected a JSON array of platforms (or {"platforms": [...]})')
    } else if (Array.isArray(list)) {
      list.forEach((entry, i) => {
        const platform = checkPlatform(entry, `PLATFORMS_FILE[${i}]`, problems, defaults)
        if (platform) platforms.push(platform)
      })
    }
  }
  const single = [env.issuer, env.client_id, env.authorize_url, env.jwks_endpoint]
  if (single.some((value) => value !== undefined)) {
    const platform = checkPlatform({
      issuer: env.issuer,
      client_ids: env.client_id,
      authorize_url: env.authorize_url,
      jwks_endpoint: env.jwks_endpoint,
      deployment_ids: env.deployment_ids,
      token_url: env.token_url,
      token_audience: env.token_audience,
      service_hosts: env.service_hosts,
      username_prefix: env.USERNAME_PREFIX,
      username_suffix: env.USERNAME_SUFFIX
    }, 'issuer/client_id/authorize_url/jwks_endpoint', problems, defaults)
    if (platform) platforms.push(platform)
  }
  const seen = new Set<string>()
  for (const platform of platforms) {
    if (seen.has(platform.issuer)) problems.push(`platform ${platform.issuer} is registered twice`)
    seen.add(platform.issuer)
  }
  checkNamespaces(platforms, problems)
  // With dynamic registration on, platforms may all come by URL later.
  if (platforms.length === 0 && problems.length === 0 && !registerByUrl) {
    problems.push('no platform is registered: set issuer, client_id, authorize_url and jwks_endpoint, or PLATFORMS_FILE (or DYNAMIC_REGISTRATION=on to register platforms by URL)')
  }
  return platforms
}

function readOAuthClients (env: ToolAuthEnv, problems: string[]): OAuthClient[] {
  const clients: OAuthClient[] = []
  if (env.OAUTH_CLIENTS_FILE !== undefined) {
    const data = readDocumentFile('OAUTH_CLIENTS_FILE', env.OAUTH_CLIENTS_FILE, problems)
    if (data !== undefined && !Array.isArray(data)) problems.push('OAUTH_CLIENTS_FILE: expected a JSON array of clients')
    if (Array.isArray(data)) {
      data.forEach((raw: unknown, i) => {
        const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
        const redirectUris = stringList(entry.redirect_uris ?? entry.redirect_uri)
        const where = `OAUTH_CLIENTS_FILE[${i}]`
        if (typeof entry.client_id !== 'string' || entry.client_id === '') problems.push(`${where}: client_id is required`)
        else if (typeof entry.client_secret !== 'string' || entry.client_secret.length < 16) problems.push(`${where}: client_secret must be at least 16 characters`)
        else if (redirectUris === undefined || redirectUris.length === 0 || !redirectUris.every(isHttpUrl)) problems.push(`${where}: redirect_uris must list http(s) URLs`)
        else clients.push({ clientId: entry.client_id, clientSecret: entry.client_secret, redirectUris })
      })
    }
  }
  const hub = [env.HUB_CLIENT_ID, env.HUB_CLIENT_SECRET, env.HUB_REDIRECT_URI]
  if (hub.some((value) => value !== undefined)) {
    if (hub.some((value) => value === undefined)) {
      problems.push('HUB_CLIENT_ID, HUB_CLIENT_SECRET and HUB_REDIRECT_URI go together: set all three')
    } else {
      clients.push({ clientId: env.HUB_CLIENT_ID as string, clientSecret: env.HUB_CLIENT_SECRET as string, redirectUris: [env.HUB_REDIRECT_URI as string] })
    }
  }
  const seen = new Set<string>()
  for (const client of clients) {
    if (seen.has(client.clientId)) problems.push(`OAuth client ${client.clientId} is registered twice`)
    seen.add(client.clientId)
  }
  return clients
}
