/**
 * The operator's command for course rosters (NRPS):
 *
 *   node dist/cli/rosters.js sync ISSUER CONTEXT_ID [--force]   read the course's roster now and apply it to the hub
 *   node dist/cli/rosters.js status ISSUER CONTEXT_ID           the outcome of the course's last sync (JSON)
 *
 * (from a checkout: pnpm --filter @ltilaunch/tool-auth rosters ...). It runs
 * with the service's own environment (REDIS_URL, PLATFORMS_FILE, BROKER_URL,
 * ROSTER_SYNC, ...) and shares the service's store, so a sync here counts
 * against ROSTER_SYNC_INTERVAL like one on a launch (`--force` skips that
 * wait, never a sync that is running). Exit code 0: synced; 1: the sync
 * failed (the outcome says why); 2: it could not start.
 */
import { pathToFileURL } from 'node:url'
import { createServer, redisConfigured } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import app, { type AppOptions } from '../app.js'
import { readConfig } from '../config.js'

const USAGE = 'usage: rosters sync ISSUER CONTEXT_ID [--force] | status ISSUER CONTEXT_ID'

/** Runs one command; returns the exit code. */
export async function main (argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, options: Pick<AppOptions, 'store'> = {}): Promise<number> {
  const [command, issuer, contextId, ...rest] = argv
  if ((command !== 'sync' && command !== 'status') || issuer === undefined || contextId === undefined) throw new Error(USAGE)
  const config = readConfig({ ...env, LOG_LEVEL: env.LOG_LEVEL ?? 'warn' })
  // The courses, locks and outcomes are in the service's store; a store of this process alone knows none of them.
  if (options.store === undefined && !redisConfigured(config)) {
    throw new Error('rosters live in the service\'s Redis: set REDIS_URL (or REDIS_SENTINELS / REDIS_CLUSTER_NODES) and REDIS_KEY_PREFIX as the service has them')
  }
  // Logs go to stderr, so that stdout is the outcome alone.
  const server = createServer({ service: 'tool-auth', config, logStream: process.stderr })
  try {
    await server.register(fp(app), { config, ...options })
    await server.ready()
    if (command === 'status') {
      const outcome = await server.rosters.outcome(issuer, contextId)
      if (outcome === undefined) {
        out('# no sync of this course is on record')
        return 1
      }
      out(JSON.stringify(outcome, null, 2))
      return outcome.ok ? 0 : 1
    }
    const outcome = await server.rosters.sync(issuer, contextId, 'operator', { force: rest.includes('--force') })
    out(JSON.stringify(outcome, null, 2))
    return outcome.ok ? 0 : 1
  } finally {
    await server.close()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = await main(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`))
  } catch (err) {
    const error = err as Error & { code?: string }
    process.stderr.write(`rosters: ${error.code !== undefined ? `${error.code}: ` : ''}${error.message}\n`)
    process.exitCode = 2
  }
}
