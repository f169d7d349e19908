/**
 * An independent LTI 1.3 tool for the scenarios: ltijs (v5, from npm) with
 * ltijs-sequelize on a fresh PostgreSQL database, in a child process of its
 * own (ltijs's Provider is a singleton). It registers the platforms it is
 * given and records each launch its onConnect handler sees.
 *
 * What a platform must know of it: loginUrl (OIDC login initiation),
 * launchUrl (the target_link_uri, and also the redirect_uri: ltijs sends
 * its target_link_uri without the query as redirect_uri) and keysetUrl.
 * ltijs keeps the state in a cookie that lives 60 s and refuses id_tokens
 * older than tokenMaxAge seconds (its default is 10; 60 here).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDatabase } from '../harness/postgres.js'
import { freePort, startProcess, type ManagedProcess, type Teardown } from '../harness/processes.js'
import { outputDir, testDir } from '../setup/peers.js'
import type { LtijsLaunchRecord, LtijsPlatform, LtijsProcessConfig, LtijsRefusalRecord } from './ltijs-tool-process.js'

export type { LtijsLaunchRecord, LtijsPlatform, LtijsRefusalRecord }

export interface LtijsToolOptions {
  /** The platforms to register (issuer, client id, endpoints, JWKS); none when they come by dynamic registration. */
  platform: LtijsPlatform | LtijsPlatform[]
  /** Turn on ltijs's Dynamic Registration at `registerUrl` (platforms registered this way are activated at once). */
  dynamicRegistration?: boolean
  port?: number
  name?: string
  /** Seconds an id_token may be old; false turns the check off. Default 60. */
  tokenMaxAge?: number | false
  /** ltijs's devMode: state and session cookies not required. Default false. */
  devMode?: boolean
  /** ltijs cookie options; default secure: false and no SameSite, for http on loopback. */
  cookies?: LtijsProcessConfig['cookies']
  /** ltijs's debug output (DEBUG=provider:*) in the log. */
  debug?: boolean
  timeoutMs?: number
  /** The content item ltijs answers deep linking requests with (default: one ltiResourceLink to its launch URL). */
  deepLinkingItem?: Record<string, unknown>
}

export interface LtijsTool {
  url: string
  loginUrl: string
  /** target_link_uri = redirect_uri. */
  launchUrl: string
  keysetUrl: string
  /** ltijs's Dynamic Registration route (with dynamicRegistration). */
  registerUrl: string
  database: string
  recordFile: string
  proc: ManagedProcess
  launches: () => Promise<LtijsLaunchRecord[]>
  refusals: () => Promise<LtijsRefusalRecord[]>
  /** Waits until a launch satisfying the predicate has been recorded. */
  waitForLaunch: (match?: (launch: LtijsLaunchRecord) => boolean, timeoutMs?: number) => Promise<LtijsLaunchRecord>
  stop: () => Promise<void>
}

const APP_ROUTE = '/launch'
const LOGIN_ROUTE = '/login'
const KEYSET_ROUTE = '/keys'

export async function startLtijsTool (t: Teardown, options: LtijsToolOptions): Promise<LtijsTool> {
  const name = options.name ?? 'ltijs-tool'
  const port = options.port ?? await freePort()
  const database = await createDatabase(t, 'ltilaunch_e2e')
  const recordDir = path.join(outputDir, 'ltijs')
  mkdirSync(recordDir, { recursive: true })
  const recordFile = path.join(recordDir, `${name}-${database.name}.jsonl`)
  writeFileSync(recordFile, '')
  const config: LtijsProcessConfig = {
    port,
    encryptionKey: randomBytes(24).toString('hex'),
    database,
    platforms: Array.isArray(options.platform) ? options.platform : [options.platform],
    appRoute: APP_ROUTE,
    loginRoute: LOGIN_ROUTE,
    keysetRoute: KEYSET_ROUTE,
    tokenMaxAge: options.tokenMaxAge ?? 60,
    devMode: options.devMode ?? false,
    cookies: options.cookies ?? { secure: false, sameSite: '' },
    recordFile,
    ...(options.dynamicRegistration === true ? { dynReg: { url: `http://127.0.0.1:${port}`, name } } : {}),
    ...(options.deepLinkingItem === undefined ? {} : { deepLinkingItem: options.deepLinkingItem })
  }
  const url = `http://127.0.0.1:${port}`
  // Registered after the database's teardown, so it runs first: the tool stops, then its database goes.
  const proc = await startProcess(t, {
    name,
    cmd: process.execPath,
    args: ['--import', 'tsx', path.join(testDir, 'peers', 'ltijs-tool-process.ts')],
    cwd: testDir,
    env: {
      ...process.env,
      LTIJS_CONFIG: JSON.stringify(config),
      ...(options.debug ? { DEBUG: 'provider:*' } : {})
    },
    readyUrl: { url: `${url}/e2e/health`, ok: (status) => status === 200 },
    timeoutMs: options.timeoutMs ?? 30_000
  })
  const getJson = async <T>(route: string): Promise<T> => {
    const reply = await fetch(`${url}${route}`, { signal: AbortSignal.timeout(5000) })
    if (reply.status !== 200) throw new Error(`GET ${route} on the ltijs tool: ${reply.status} ${await reply.text()}`)
    return await reply.json() as T
  }
  const launches = async (): Promise<LtijsLaunchRecord[]> => await getJson<LtijsLaunchRecord[]>('/e2e/launches')
  return {
    url,
    loginUrl: `${url}${LOGIN_ROUTE}`,
    launchUrl: `${url}${APP_ROUTE}`,
    keysetUrl: `${url}${KEYSET_ROUTE}`,
    registerUrl: `${url}/register`,
    database: database.name,
    recordFile,
    proc,
    launches,
    refusals: async () => await getJson<LtijsRefusalRecord[]>('/e2e/refusals'),
    waitForLaunch: async (match = () => true, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = (await launches()).find(match)
        if (found) return found
        if (Date.now() > deadline) throw new Error(`the ltijs tool saw no matching launch within ${timeoutMs} ms; see ${proc.logFile} and ${recordFile}`)
        await sleep(100)
      }
    },
    stop: async () => { await proc.stop() }
  }
}
