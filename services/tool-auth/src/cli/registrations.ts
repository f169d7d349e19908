/**
 * The operator's command for registrations by URL (LTI Dynamic Registration):
 *
 *   pnpm --filter @ltilaunch/tool-auth registrations link [--ttl SECONDS]   a one-time registration URL
 *   pnpm --filter @ltilaunch/tool-auth registrations list                   the platforms registered by URL
 *   pnpm --filter @ltilaunch/tool-auth registrations remove ISSUER          forget one (its launches stop at once)
 *
 * It reads the service's own environment (REDIS_URL, REDIS_KEY_PREFIX,
 * PUBLIC_URL, ...), so run it with the settings the service runs with.
 */
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { commandAuditTrail, createStore, redisConfigured, RedisStore, type Store } from '@ltilaunch/service-kit'
import type { FastifyBaseLogger } from 'fastify'
import { readConfig, type ToolAuthConfig } from '../config.js'
import { LINK_PREFIX, REGISTRATIONS_MAP, type StoredRegistration } from '../lib/registration.js'
import type { RegistrationLink } from '../routes/lti13/register.js'

const USAGE = 'usage: registrations link [--ttl SECONDS] | list | remove ISSUER'

/** Makes a one-time registration link: the URL an LMS administrator pastes into "register by URL". */
export async function createLink (store: Store, config: ToolAuthConfig, ttl = config.REGISTRATION_LINK_TTL): Promise<{ url: string, expiresAt: Date }> {
  if (config.PUBLIC_URL === undefined) throw new Error('PUBLIC_URL is not set: the link must carry the address platforms reach this tool at')
  const token = randomBytes(24).toString('base64url')
  const link: RegistrationLink = { createdAt: Date.now(), expiresAt: Date.now() + ttl * 1000 }
  await store.put(`${LINK_PREFIX}${token}`, link, ttl)
  return { url: `${config.PUBLIC_URL.replace(/\/+$/, '')}/lti13/register?link=${token}`, expiresAt: new Date(link.expiresAt) }
}

export async function listRegistrations (store: Store): Promise<StoredRegistration[]> {
  return Object.values(await store.mapAll<StoredRegistration>(REGISTRATIONS_MAP)).sort((a, b) => a.issuer.localeCompare(b.issuer))
}

export async function removeRegistration (store: Store, issuer: string): Promise<boolean> {
  return await store.mapDelete(REGISTRATIONS_MAP, issuer)
}

/** Runs one command; returns the exit code. */
export async function main (argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const [command, ...rest] = argv
  const config = readConfig(env)
  if (!redisConfigured(config)) {
    throw new Error('registrations by URL live in Redis: set REDIS_URL (or REDIS_SENTINELS / REDIS_CLUSTER_NODES) as the service has it; without Redis, authorize registrations with REGISTRATION_SECRET')
  }
  const log = { warn: () => {}, error: (message: string) => process.stderr.write(`${message}\n`) } as unknown as FastifyBaseLogger
  const store = await createStore(config, { service: 'tool-auth', log })
  try {
    switch (command) {
      case 'link': {
        const at = rest.indexOf('--ttl')
        const ttl = at === -1 ? undefined : Number(rest[at + 1])
        if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 60)) throw new Error('--ttl takes a number of seconds, at least 60')
        const { url, expiresAt } = await createLink(store, config, ttl)
        out(url)
        out(`# one use, until ${expiresAt.toISOString()}; paste it as the tool URL in the platform's "register by URL"`)
        return 0
      }
      case 'list': {
        const registrations = await listRegistrations(store)
        if (registrations.length === 0) out('# no platform is registered by URL')
        for (const entry of registrations) out(JSON.stringify(entry))
        return 0
      }
      case 'remove': {
        const issuer = rest[0]
        if (issuer === undefined) throw new Error(USAGE)
        const removed = await removeRegistration(store, issuer)
        const audit = commandAuditTrail({ service: 'tool-auth', config, redis: store instanceof RedisStore ? store.redis : undefined })
        audit.record({ type: 'tool.registration.removed', outcome: removed ? 'success' : 'failure', ...(removed ? {} : { error_code: 'TOOL_AUTH_NOT_FOUND' }), target: { issuer } })
        await audit.flush()
        out(removed ? `removed ${issuer}` : `# ${issuer} is not registered by URL (a platform in PLATFORMS_FILE is removed by editing the file)`)
        return removed ? 0 : 1
      }
      default:
        throw new Error(USAGE)
    }
  } finally {
    await store.close()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = await main(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`))
  } catch (err) {
    process.stderr.write(`registrations: ${(err as Error).message}\n`)
    process.exitCode = 2
  }
}
