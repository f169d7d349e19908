/**
 * An independent LTI 1.3 tool that uses Assignment and Grade Services and
 * Names and Role Provisioning Services: PyLTI1p3 (PyPI) with its Flask
 * adapter, peers/pylti1p3_tool.py, run with the virtualenv's Python as a
 * process of its own on a free port. It has its own RSA key (PEM files in
 * the run's directory, the public half served at /jwks for the platform to
 * register) and is configured with our platform's issuer, client ids,
 * auth_login_url, auth_token_url and key_set_url, as PyLTI1p3's README
 * configures a tool.
 *
 * What a platform must know of it: loginUrl (OIDC login initiation),
 * launchUrl (target_link_uri and redirect_uri) and jwksUrl.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, startProcess, type ManagedProcess, type Teardown } from '../harness/processes.js'
import { outputDir, testDir, venvBin } from '../setup/peers.js'

export interface Pylti1p3Activity {
  /** The line item's tag: find_or_create_lineitem finds it by this. */
  tag: string
  label: string
  resource_id: string
  score_maximum: number
  /** What put_grade gives a launching learner. */
  score_given: number
  comment?: string
}

export interface Pylti1p3ToolOptions {
  name: string
  issuer: string
  /** The client ids (one ToolConfDict entry each) and their deployments. */
  clients: Array<{ client_id: string, deployment_ids: string[] }>
  authLoginUrl: string
  /** The platform's token endpoint (client credentials with a signed JWT). */
  authTokenUrl: string
  /** The aud of the tool's client assertion (PyLTI1p3's default: authTokenUrl). */
  authAudience?: string
  keySetUrl: string
  activity: Pylti1p3Activity
  /** A user id that is not in the course: a learner's launch also posts a score for it (a refusal to see). */
  otherUserId?: string
  /** Members per NRPS page when the tool reads the roster a page at a time (the limit parameter). */
  nrpsPageLimit?: number
  port?: number
  timeoutMs?: number
}

/** What the launch handler saw and did, as peers/pylti1p3_tool.py records it. */
export interface Pylti1p3Step {
  ok: boolean
  ms: number
  value?: unknown
  /** PyLTI1p3's exception class (LtiException, LtiServiceException) and message. */
  error?: string
  message?: string
  /** The platform's answer to a refused service request. */
  status?: number
  content_type?: string
  body?: unknown
}

export interface Pylti1p3LaunchRecord {
  at: string
  sub?: string
  name?: string
  client_id?: string
  message_type?: string
  context?: { id?: string, label?: string, title?: string }
  resource_link?: { id?: string, title?: string }
  has_ags?: boolean
  has_nrps?: boolean
  ags_claim?: { scope?: string[], lineitems?: string, lineitem?: string }
  nrps_claim?: { context_memberships_url?: string, service_versions?: string[] }
  ags_can?: { read_lineitem: boolean, create_lineitem: boolean, put_grade: boolean, read_grades: boolean }
  learner?: boolean
  roles?: string[]
  /** A launch PyLTI1p3 refused (its validation). */
  refused?: Pylti1p3Step
  steps: Record<string, Pylti1p3Step>
}

export interface Pylti1p3Tool {
  url: string
  loginUrl: string
  launchUrl: string
  jwksUrl: string
  recordFile: string
  proc: ManagedProcess
  launches: () => Promise<Pylti1p3LaunchRecord[]>
  /** Waits until a launch satisfying the predicate has been recorded. */
  waitForLaunch: (match?: (launch: Pylti1p3LaunchRecord) => boolean, timeoutMs?: number) => Promise<Pylti1p3LaunchRecord>
  stop: () => Promise<void>
}

export async function startPylti1p3Tool (t: Teardown, options: Pylti1p3ToolOptions): Promise<Pylti1p3Tool> {
  const port = options.port ?? await freePort()
  const dir = path.join(outputDir, 'pylti1p3', `${options.name}-${randomBytes(4).toString('hex')}`)
  mkdirSync(dir, { recursive: true })
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privateKeyFile = path.join(dir, 'private.pem')
  const publicKeyFile = path.join(dir, 'public.pem')
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }))
  const recordFile = path.join(dir, 'launches.jsonl')
  writeFileSync(recordFile, '')
  const configFile = path.join(dir, 'config.json')
  writeFileSync(configFile, JSON.stringify({
    port,
    issuer: options.issuer,
    clients: options.clients,
    auth_login_url: options.authLoginUrl,
    auth_token_url: options.authTokenUrl,
    auth_audience: options.authAudience ?? null,
    key_set_url: options.keySetUrl,
    private_key_file: privateKeyFile,
    public_key_file: publicKeyFile,
    secret_key: randomBytes(24).toString('hex'),
    activity: options.activity,
    other_user_id: options.otherUserId ?? null,
    nrps_page_limit: options.nrpsPageLimit ?? null,
    record_file: recordFile
  }, null, 2), { mode: 0o600 })

  const url = `http://127.0.0.1:${port}`
  const proc = await startProcess(t, {
    name: options.name,
    cmd: venvBin('python'),
    args: [path.join(testDir, 'peers', 'pylti1p3_tool.py')],
    cwd: testDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONUNBUFFERED: '1', PYLTI1P3_TOOL_CONFIG: configFile },
    readyUrl: { url: `${url}/e2e/health`, ok: (status) => status === 200 },
    timeoutMs: options.timeoutMs ?? 30_000,
    graceMs: 2000
  })
  const launches = async (): Promise<Pylti1p3LaunchRecord[]> => {
    const reply = await fetch(`${url}/e2e/launches`, { signal: AbortSignal.timeout(5000) })
    if (reply.status !== 200) throw new Error(`GET /e2e/launches on the pylti1p3 tool: ${reply.status} ${await reply.text()}`)
    return await reply.json() as Pylti1p3LaunchRecord[]
  }
  return {
    url,
    loginUrl: `${url}/login`,
    launchUrl: `${url}/launch`,
    jwksUrl: `${url}/jwks`,
    recordFile,
    proc,
    launches,
    waitForLaunch: async (match = () => true, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = (await launches()).find(match)
        if (found) return found
        if (Date.now() > deadline) throw new Error(`the pylti1p3 tool saw no matching launch within ${timeoutMs} ms; see ${proc.logFile} and ${recordFile}`)
        await sleep(100)
      }
    },
    stop: async () => { await proc.stop() }
  }
}
