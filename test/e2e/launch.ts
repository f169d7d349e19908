/**
 * A launch through our stack, as a browser without scripts makes it: sign in
 * to the platform, post the launch form, then follow redirects, self-
 * submitting forms and the progress page's refresh until a page that does
 * none of these (JupyterLab, or an error page).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { BrowserClient, describeSteps, type LaunchResult, type Page } from '../harness/browser-client.js'
import type { Hub, HubUser } from '../harness/jupyterhub.js'
import { launchFormFields, signIn, type DemoUser, type Stack } from './stack.js'

export interface OurLaunch extends LaunchResult {
  client: BrowserClient
  home: Page
  /** The broker's launch id, from the progress page the browser passed. */
  launchId?: string
}

export async function launchThroughStack (stack: Stack, user: DemoUser, choices: { course: string, image?: string }, options: { client?: BrowserClient, maxSteps?: number } = {}): Promise<OurLaunch> {
  const client = options.client ?? new BrowserClient()
  const home = await signIn(client, stack.plan.platformUrl, user)
  const result = await client.followLaunch(`${stack.plan.platformUrl}/launch`, {
    method: 'POST',
    form: launchFormFields(home, choices),
    initiator: home.url,
    refresh: true,
    maxRefreshWaitMs: 1000,
    maxSteps: options.maxSteps ?? 120
  })
  const progress = result.steps.find((step) => step.url.startsWith(`${stack.plan.brokerUrl}/launches/`))
  const launchId = progress === undefined ? undefined : new URL(progress.url).pathname.split('/')[2]
  return { ...result, client, home, ...(launchId ? { launchId } : {}) }
}

/** The steps, for a failure message. */
export function stepsOf (launch: LaunchResult): string {
  return describeSteps(launch.steps)
}

/** What RecordingSpawner wrote for a user's server. */
export function spawnerRecord (hub: Hub, user: string, server: string): Record<string, unknown> {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.@-]/g, '_')
  return JSON.parse(readFileSync(path.join(hub.recordDir, `${safe(user)}--${safe(server)}.json`), 'utf8')) as Record<string, unknown>
}

/** The environment of a running single-user server (its pid from the server state). */
export function serverEnvironment (model: HubUser | undefined, server: string): Record<string, string> {
  const pid = (model?.servers?.[server]?.state as { pid?: number } | undefined)?.pid
  if (pid === undefined) throw new Error(`no pid in the state of ${model?.name}/${server}`)
  const environ: Record<string, string> = {}
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const at = entry.indexOf('=')
    if (at > 0) environ[entry.slice(0, at)] = entry.slice(at + 1)
  }
  return environ
}
