/**
 * Click to notebook: the time a person waits from pressing Launch on the
 * platform's page to a JupyterLab page served by their own server, in a
 * real browser (Debian's chromium, headless), for two setups on the same
 * platform, side by side:
 *
 * - ltilaunch: platform → tool-auth → broker (jupyterhub driver, named
 *   servers) → JupyterHub with GenericOAuthenticator against tool-auth;
 * - the seed's setup: platform → JupyterHub with jupyterhub-ltiauthenticator's
 *   LTI13Authenticator (the hub is the tool; e2e scenario 2's config).
 *
 * Both hubs are the end-to-end harness's (test/harness/jupyterhub.ts) with
 * the same local spawner (test/peers/recording_spawner.py, a
 * SimpleLocalProcessSpawner) and default_url /lab. Launches alternate
 * between the setups, so that the load of the machine falls on both alike;
 * before each launch the user's server is stopped, so every launch is a
 * cold spawn. Each navigation is timestamped, so the wait splits into its
 * phases: the LTI launch, the wait for the spawn, the hub's sign-in and the
 * redirects to the server.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium, type Browser } from 'playwright-core'
import { startJupyterHub, type Hub } from '../harness/jupyterhub.js'
import { freePort } from '../harness/processes.js'
import { ensureChromium } from '../setup/peers.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, ourToolRegistration, planStack, startStack, USERS, type DemoUser, type ToolRegistration } from '../e2e/stack.js'
import { summarize, type Summary } from './lib/stats.js'

const DIRECT_CLIENT = 'jupyterhub-lti13'

export type Setup = 'ltilaunch' | 'ltiauthenticator'

export interface NotebookLaunch {
  setup: Setup
  ms: number
  /** ms from the click to the first request of each phase (the top-level navigation's, redirects included). */
  phases: Record<string, number>
  navigations: number
  /** What the hub logged as the spawn's duration ("took N seconds to start"): the spawner's own time. */
  spawnMs?: number
}

export interface NotebookResult {
  launches: Record<Setup, NotebookLaunch[]>
  summary: Record<Setup, Summary>
  /** Per phase, p50 of when it began (ms after the click). */
  phaseP50: Record<Setup, Record<string, number>>
  /** The hub's spawn time, and the rest of the wait (total - spawn): what the path itself costs. */
  spawn: Record<Setup, Summary>
  besidesSpawn: Record<Setup, Summary>
  failures: string[]
  progressPollMs: number
}

interface Teardowns { fns: Array<() => unknown>, teardown: (fn: () => unknown) => void }

function teardowns (): Teardowns {
  const fns: Array<() => unknown> = []
  return { fns, teardown: (fn) => { fns.push(fn) } }
}

/** The seed's hub: LTI13Authenticator as services/platform/README.md's worked example configures it. */
function directHubConfig (platformUrl: string): string {
  return `
c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
c.LTI13Authenticator.issuer = ${JSON.stringify(platformUrl)}
c.LTI13Authenticator.client_id = [${JSON.stringify(DIRECT_CLIENT)}]
c.LTI13Authenticator.authorize_url = ${JSON.stringify(`${platformUrl}/lti/authorize`)}
c.LTI13Authenticator.jwks_endpoint = ${JSON.stringify(`${platformUrl}/.well-known/jwks.json`)}
c.LTI13Authenticator.username_key = "email"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = 'recording_spawner.RecordingSpawner'
c.RecordingSpawner.allowed_images = ${JSON.stringify(Object.values(IMAGES))}
c.Spawner.default_url = '/lab'
`
}

/** Which part of the way a URL is. */
function phaseOf (url: URL, origins: { platform: string, toolAuth: string, broker: string, hub: string }): string {
  if (url.origin === origins.broker) return 'broker progress page'
  if (url.origin === origins.toolAuth) return url.pathname.startsWith('/oauth2/') ? 'hub sign-in at tool-auth' : 'LTI launch'
  if (url.origin === origins.platform) return 'LTI launch'
  if (url.origin === origins.hub) {
    if (/^\/user\/[^/]+\/([^/]+\/)?lab/.test(url.pathname)) return 'JupyterLab'
    if (url.pathname.startsWith('/hub/lti13/')) return 'LTI launch'
    if (url.pathname.startsWith('/hub/spawn')) return 'hub spawn page'
    if (url.pathname.startsWith('/hub/login') || url.pathname.startsWith('/hub/oauth')) return 'hub sign-in'
    return 'hub redirects'
  }
  return 'elsewhere'
}

async function stopServer (hub: Hub, user: string): Promise<void> {
  const model = await hub.api.user(user)
  for (const [name, server] of Object.entries(model?.servers ?? {})) {
    if (server.ready || server.pending) await hub.api.stopServer(user, name)
  }
  // Wait until nothing runs, so that the next launch is a cold spawn.
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const now = await hub.api.user(user)
    if (Object.values(now?.servers ?? {}).every((s) => !s.ready && !s.pending)) return
    await sleep(200)
  }
  throw new Error(`${user}'s server did not stop within 60 s`)
}

export async function measureClickToNotebook (options: { quick: boolean, progressPollMs?: number, log: (line: string) => void }): Promise<NotebookResult> {
  const rounds = options.quick ? 3 : 10
  const user: DemoUser = 'grace'
  const username = USERS[user].email
  const progressPollMs = options.progressPollMs ?? 200
  const td = teardowns()
  const failures: string[] = []
  const launches: Record<Setup, NotebookLaunch[]> = { ltilaunch: [], ltiauthenticator: [] }
  try {
    const plan = await planStack('bench-notebook')
    const directPort = await freePort()
    const directUrl = `http://127.0.0.1:${directPort}`
    const direct: ToolRegistration = {
      client_id: DIRECT_CLIENT,
      name: 'JupyterHub (ltiauthenticator)',
      deployment_ids: ['1'],
      initiate_login_uri: `${directUrl}/hub/lti13/oauth_login`,
      target_link_uri: `${directUrl}/hub/`,
      redirect_uris: [`${directUrl}/hub/lti13/oauth_callback`],
      send_name: true,
      send_email: true,
      images: Object.values(IMAGES)
    }
    options.log(`starting two hubs, the platform, tool-auth and the broker (PROGRESS_POLL_MS=${progressPollMs})`)
    const [ours, seed] = await Promise.all([
      // INFO: the hub logs how long each spawn took, which splits the wait.
      startJupyterHub(td, { name: 'bench-nb-hub', port: plan.hubPort, config: genericOAuthHubConfig(plan), env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }, logLevel: 'INFO' }),
      startJupyterHub(td, { name: 'bench-nb-direct-hub', port: directPort, config: directHubConfig(plan.platformUrl), logLevel: 'INFO' })
    ])
    await startStack(td, plan, {
      hub: ours,
      tools: [ourToolRegistration(plan), direct],
      env: { toolAuth: { RATE_LIMIT_MAX: '0' }, broker: { PROGRESS_POLL_MS: String(progressPollMs) } }
    })
    const browser: Browser = await chromium.launch({
      executablePath: await ensureChromium(),
      headless: true,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : []
    })
    td.teardown(async () => { await browser.close() })
    const origins = { platform: plan.platformUrl, toolAuth: plan.toolAuthUrl, broker: plan.brokerUrl }

    const launch = async (setup: Setup): Promise<NotebookLaunch> => {
      const hub = setup === 'ltilaunch' ? ours : seed
      await stopServer(hub, username)
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      try {
        const page = await context.newPage()
        await page.goto(`${plan.platformUrl}/login`)
        await page.fill('#username', user)
        await page.fill('#password', USERS[user].password)
        await Promise.all([page.waitForURL(`${plan.platformUrl}/`), page.click('button[type=submit]')])
        await page.selectOption('#client_id', setup === 'ltilaunch' ? ourToolRegistration(plan).client_id : DIRECT_CLIENT)
        await page.selectOption('#course', 'ds101')
        await page.selectOption('#image', IMAGES.pytorch)
        const phases: Record<string, number> = {}
        let navigations = 0
        let clicked = 0
        // Every request of the top-level navigation, redirects included: when each phase began.
        page.on('request', (request) => {
          if (clicked === 0 || !request.isNavigationRequest() || request.frame() !== page.mainFrame()) return
          navigations++
          const phase = phaseOf(new URL(request.url()), { ...origins, hub: hub.url })
          phases[phase] ??= Date.now() - clicked
        })
        const lab = new RegExp(`^${hub.url.replace(/[.]/g, '\\.')}/user/[^/]+/([a-z0-9-]+/)?lab`)
        clicked = Date.now()
        await Promise.all([
          page.waitForURL(lab, { waitUntil: 'domcontentloaded', timeout: 180_000 }),
          page.click('button:has-text("Launch")')
        ])
        const ms = Date.now() - clicked
        const body = await page.content()
        if (!body.includes('<title>JupyterLab</title>')) throw new Error(`${setup}: ${page.url()} is not JupyterLab`)
        const took = [...hub.proc.tail(400).matchAll(/User \S+ took ([\d.]+) seconds to start/g)].at(-1)?.[1]
        return { setup, ms, phases, navigations, ...(took === undefined ? {} : { spawnMs: Number(took) * 1000 }) }
      } finally {
        await context.close()
      }
    }

    // One untimed launch each: the hubs' first spawn and the services' first launch warm up.
    for (const setup of ['ltilaunch', 'ltiauthenticator'] as const) {
      try {
        await launch(setup)
      } catch (err) {
        failures.push(`warm-up ${setup}: ${(err as Error).message.split('\n')[0]}`)
      }
    }
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always follows the other's cleanup.
      const order: Setup[] = round % 2 === 0 ? ['ltilaunch', 'ltiauthenticator'] : ['ltiauthenticator', 'ltilaunch']
      for (const setup of order) {
        try {
          const result = await launch(setup)
          launches[setup].push(result)
          options.log(`  ${setup} launch ${round + 1}/${rounds}: ${result.ms} ms (${result.navigations} navigations)`)
        } catch (err) {
          failures.push(`${setup} round ${round + 1}: ${(err as Error).message.split('\n')[0]}`)
        }
      }
    }
  } finally {
    for (const fn of td.fns.reverse()) {
      try {
        await fn()
      } catch {}
    }
  }
  const phaseP50 = (list: NotebookLaunch[]): Record<string, number> => {
    const names = [...new Set(list.flatMap((l) => Object.keys(l.phases)))]
    const out: Record<string, number> = {}
    for (const name of names) out[name] = summarize(list.map((l) => l.phases[name]).filter((v): v is number => v !== undefined)).p50
    return out
  }
  const withSpawn = (list: NotebookLaunch[]): Array<NotebookLaunch & { spawnMs: number }> => list.filter((l): l is NotebookLaunch & { spawnMs: number } => l.spawnMs !== undefined)
  const spawnOf = (list: NotebookLaunch[]): Summary => summarize(withSpawn(list).map((l) => l.spawnMs))
  const besides = (list: NotebookLaunch[]): Summary => summarize(withSpawn(list).map((l) => l.ms - l.spawnMs))
  return {
    launches,
    summary: { ltilaunch: summarize(launches.ltilaunch.map((l) => l.ms)), ltiauthenticator: summarize(launches.ltiauthenticator.map((l) => l.ms)) },
    phaseP50: { ltilaunch: phaseP50(launches.ltilaunch), ltiauthenticator: phaseP50(launches.ltiauthenticator) },
    spawn: { ltilaunch: spawnOf(launches.ltilaunch), ltiauthenticator: spawnOf(launches.ltiauthenticator) },
    besidesSpawn: { ltilaunch: besides(launches.ltilaunch), ltiauthenticator: besides(launches.ltiauthenticator) },
    failures,
    progressPollMs
  }
}
