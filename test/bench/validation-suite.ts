import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import path from 'node:path'
import { startLtijsTool } from '../peers/ltijs-tool.js'
import { Cleanup } from './lib/cleanup.js'
import { freePort, startProcess, type BenchProcess } from './lib/processes.js'
import { startLtiAuthenticatorHub } from './peers/jupyterhub.js'
import { startStubBroker } from './stub-broker.js'
import { startBenchPlatform, type BenchPlatform } from './tokens.js'
import { measureCallback, untimedPairs, type ValidationResult } from './validation.js'

/**
 * Launch validation alone, side by side: tool-auth, an ltijs tool and
 * jupyterhub-ltiauthenticator in a real JupyterHub, each registered with the
 * same bench platform and fed the same kind of pre-made (state, id_token)
 * pairs. Each is started, measured and stopped in turn, so that they never
 * share the cores.
 */

export interface ValidationSuiteResult {
  toolAuth?: ValidationResult
  ltijs?: ValidationResult
  ltiauthenticator?: ValidationResult
  skipped: Record<string, string>
  errors: Record<string, string>
  notes: string[]
}

async function startToolAuth (options: {
  repo: string
  platform: BenchPlatform
  brokerUrl: string
  brokerToken: string
  redisUrl: string
  redisPrefix: string
  logDir: string
  logLevel: string
  cpuProfDir?: string
  imports?: string[]
  /** Node flags for tool-auth (the image's NODE_OPTIONS, then --node-args). */
  nodeArgs?: string[]
}): Promise<{ url: string, proc: BenchProcess }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const toolKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const nodeArgs = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, '--cpu-prof-name=validation-tool-auth.cpuprofile'] : []
  for (const module of options.imports ?? []) nodeArgs.push(`--import=${module}`)
  nodeArgs.push(...(options.nodeArgs ?? []))
  const proc = await startProcess({
    name: 'validation-tool-auth',
    cmd: process.execPath,
    args: [...nodeArgs, path.join(options.repo, 'services', 'tool-auth', 'dist', 'server.js')],
    cwd: path.join(options.repo, 'services', 'tool-auth'),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      LOG_LEVEL: options.logLevel,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: `${options.redisPrefix}validation-tool-auth:`,
      SHUTDOWN_GRACE_MS: '2000',
      issuer: options.platform.issuer,
      client_id: options.platform.clientId,
      authorize_url: options.platform.authorizeUrl,
      jwks_endpoint: options.platform.jwksUrl,
      deployment_ids: options.platform.deploymentId,
      uri_scheme: 'http',
      BROKER_URL: options.brokerUrl,
      BROKER_SERVICE_TOKEN: options.brokerToken,
      HUB_CLIENT_ID: 'jupyterhub',
      HUB_CLIENT_SECRET: `bench-hub-secret-${randomBytes(16).toString('hex')}`,
      HUB_REDIRECT_URI: 'http://127.0.0.1:9/hub/oauth_callback',
      TOOL_KEY: toolKey,
      RATE_LIMIT_MAX: '0'
    },
    logDir: options.logDir,
    readyUrl: `${url}/readyz`
  })
  return { url, proc }
}

export async function runValidationSuite (options: {
  repo: string
  testDir: string
  runId: string
  workDir: string
  logDir: string
  logLevel: string
  redisUrl: string
  redisPrefix: string
  redis: Redis
  count: number
  hubCount: number
  concurrency: number
  timeCapMs: number
  only: Set<string>
  cpuProfDir?: string
  imports?: string[]
  /** Node flags for tool-auth (the image's NODE_OPTIONS, then --node-args). */
  nodeArgs?: string[]
  log: (line: string) => void
}): Promise<ValidationSuiteResult> {
  const result: ValidationSuiteResult = { skipped: {}, errors: {}, notes: [] }
  const platform = await startBenchPlatform()
  try {
    if (options.only.has('tool-auth')) {
      const brokerToken = `bench-broker-token-${randomBytes(16).toString('hex')}`
      const broker = await startStubBroker(brokerToken)
      let toolAuth: { url: string, proc: BenchProcess } | undefined
      try {
        toolAuth = await startToolAuth({ ...options, platform, brokerUrl: broker.url, brokerToken })
        options.log(`  tool-auth callback: ${options.count} pairs at concurrency ${options.concurrency}, after ${untimedPairs(options.count)} untimed`)
        const before = platform.jwksFetches()
        result.toolAuth = await measureCallback({
          target: {
            name: 'tool-auth',
            loginUrl: `${toolAuth.url}/lti13/oauth_login`,
            callbackUrl: `${toolAuth.url}/lti13/oauth_callback`,
            targetLinkUri: `${toolAuth.url}/lti13/launch`,
            pids: [toolAuth.proc.pid]
          },
          platform,
          count: options.count,
          concurrency: options.concurrency,
          timeCapMs: options.timeCapMs,
          redis: options.redis
        })
        result.notes.push(`tool-auth fetched the JWKS ${platform.jwksFetches() - before} time(s) for ${result.toolAuth.requests} callbacks; the stub broker took ${broker.calls()} launches`)
      } catch (err) {
        result.errors['tool-auth'] = (err as Error).message
      } finally {
        await toolAuth?.proc.stop()
        await broker.close()
      }
    }

    if (options.only.has('ltijs')) {
      // The end-to-end harness's ltijs tool: its own process, ltijs-sequelize on a fresh
      // PostgreSQL database; tokenMaxAge as tool-auth's max_age, so the same pre-made tokens pass.
      const cleanup = new Cleanup()
      try {
        const tool = await startLtijsTool(cleanup, {
          name: 'bench-ltijs-tool',
          tokenMaxAge: 600,
          platform: {
            url: platform.issuer,
            name: 'bench platform',
            clientId: platform.clientId,
            authenticationEndpoint: platform.authorizeUrl,
            accesstokenEndpoint: `${platform.issuer}/token`,
            authConfig: { method: 'JWK_SET', key: platform.jwksUrl }
          }
        })
        options.log(`  ltijs callback: ${options.count} pairs at concurrency ${options.concurrency}, after ${untimedPairs(options.count)} untimed`)
        const before = platform.jwksFetches()
        result.ltijs = await measureCallback({
          target: { name: 'ltijs', loginUrl: tool.loginUrl, callbackUrl: tool.launchUrl, targetLinkUri: tool.launchUrl, pids: [tool.proc.pid] },
          platform,
          count: options.count,
          concurrency: options.concurrency,
          timeCapMs: options.timeCapMs
        })
        result.notes.push(`ltijs fetched the JWKS ${platform.jwksFetches() - before} time(s) for ${result.ltijs.requests} callbacks (it does not cache keys) and keeps nonces and tokens in PostgreSQL`)
      } catch (err) {
        result.errors.ltijs = (err as Error).message
      } finally {
        await cleanup.run()
      }
    }

    if (options.only.has('ltiauthenticator')) {
      // The end-to-end harness's JupyterHub, from the virtualenv test/setup/peers.ts installs (on first use).
      const cleanup = new Cleanup()
      try {
        options.log('  starting JupyterHub with LTI13Authenticator (installs the pinned virtualenv on first use) ...')
        const hub = await startLtiAuthenticatorHub(cleanup, platform)
        options.log(`  jupyterhub-ltiauthenticator callback: ${options.hubCount} pairs at concurrency ${options.concurrency}, after ${untimedPairs(options.hubCount)} untimed`)
        const before = platform.jwksFetches()
        result.ltiauthenticator = await measureCallback({
          target: { name: 'ltiauthenticator', loginUrl: hub.loginUrl, callbackUrl: hub.callbackUrl, targetLinkUri: hub.targetLinkUri, pids: [hub.hub.proc.pid] },
          platform,
          count: options.hubCount,
          concurrency: options.concurrency,
          timeCapMs: options.timeCapMs
        })
        result.notes.push(`ltiauthenticator fetched the JWKS ${platform.jwksFetches() - before} time(s) for ${result.ltiauthenticator.requests} callbacks (a new PyJWKClient per request, a blocking fetch on the hub's event loop)`)
      } catch (err) {
        result.errors.ltiauthenticator = (err as Error).message
      } finally {
        await cleanup.run()
      }
    }
  } finally {
    await platform.close()
  }
  return result
}
