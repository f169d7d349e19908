/**
 * Scenario 7: what `pnpm start` runs (dev/start.ts), on free ports and a
 * state directory of its own: the three services with the dev settings of
 * dev/*.env and a real local JupyterHub (dev/hub/jupyterhub_config.py)
 * that the broker drives through the REST API. A browser without scripts
 * signs in as grace, launches PyTorch, and lands in JupyterLab served by her
 * own server; the image is recorded in that server's environment and the
 * progress says that a local JupyterLab runs instead of the image. Then the
 * two ways to a dry run: asked for (--dry-run), and a machine that cannot
 * run a hub (no Python), which says why in one line. And in Chromium, on the
 * same stack: sign-in, the launch form (the role in the chosen course, the
 * image's description, both following the choices), the progress page (its
 * bar and steps updated live by the event stream) and JupyterLab, each
 * asserted and saved as test/output/screenshots/14-<n>-<page>.png (the
 * README's quick start shows copies from docs/images/).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { launchChromium, newContext, screenshot, screenshotDir, type Page } from '../harness/chromium.js'
import { HubApi } from '../harness/jupyterhub.js'
import { freePorts, startProcess, type ManagedProcess, type Teardown } from '../harness/processes.js'
import { outputDir, venvDir } from '../setup/peers.js'
import { stepsOf } from './launch.js'
import { BROKER_TOKEN, IMAGES, launchFormFields, repoDir, signIn, USERS } from './stack.js'

interface Started {
  proc: ManagedProcess
  stateDir: string
  platformUrl: string
  toolAuthUrl: string
  brokerUrl: string
  hubUrl: string
}

/** Runs dev/start.ts as `pnpm start` does (the build is the suite's), and waits for its ready line. */
async function startLauncher (t: Teardown, name: string, options: { args?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<Started> {
  const [platform, toolAuth, broker, hub] = await freePorts(4) as [number, number, number, number]
  const base = path.join(outputDir, 'e2e')
  mkdirSync(base, { recursive: true })
  const stateDir = mkdtempSync(path.join(base, `${name}-`))
  const proc = await startProcess(t, {
    name,
    cmd: path.join(repoDir, 'node_modules', '.bin', 'tsx'),
    args: ['dev/start.ts', '--no-build', ...(options.args ?? [])],
    cwd: repoDir,
    env: {
      // As on a fresh machine: no Redis named, so each service keeps its state
      // in its own process (and this run cannot meet the usernames an earlier
      // run bound to another issuer in a shared Redis).
      ...withoutRedis(process.env),
      LTILAUNCH_PLATFORM_PORT: String(platform),
      LTILAUNCH_TOOL_AUTH_PORT: String(toolAuth),
      LTILAUNCH_BROKER_PORT: String(broker),
      LTILAUNCH_HUB_PORT: String(hub),
      LTILAUNCH_STATE_DIR: stateDir,
      // The suite's virtualenv has the same pins as the one `pnpm start` installs.
      LTILAUNCH_HUB_VENV: venvDir(),
      ...options.env
    },
    graceMs: 20_000
  })
  const deadline = Date.now() + 120_000
  // This run's ready line names its port (the log of an earlier run may be read before it is truncated).
  const ready = new RegExp(`\\[start\\] ready: open http://localhost:${platform} [^]*\\[start\\] Ctrl-C stops everything`)
  while (!ready.test(proc.tail(400))) {
    if (!proc.running()) throw new Error(`dev/start.ts exited before it was ready:\n${proc.tail(60)}`)
    if (Date.now() > deadline) throw new Error(`dev/start.ts was not ready within 120 s:\n${proc.tail(60)}`)
    await sleep(250)
  }
  return { proc, stateDir, platformUrl: `http://localhost:${platform}`, toolAuthUrl: `http://localhost:${toolAuth}`, brokerUrl: `http://localhost:${broker}`, hubUrl: `http://localhost:${hub}` }
}

/** The environment without the settings that name a Redis. */
function withoutRedis (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'].includes(name)))
}

/** The local process of a single-user server: the one whose HOME and URL prefix are these. */
function singleUserServer (home: string, prefix: string): { pid: number, environ: Record<string, string> } | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let environ: Record<string, string>
    try {
      environ = Object.fromEntries(readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
    } catch {
      continue
    }
    if (environ.HOME === home && environ.JUPYTERHUB_SERVICE_PREFIX === prefix) return { pid: Number(entry), environ }
  }
  return undefined
}

interface BrokerRecord { status: string, username: string, image: string, serverName: string, progress: Array<{ message: string }> }

async function brokerRecord (brokerUrl: string, id: string): Promise<BrokerRecord> {
  const reply = await fetch(`${brokerUrl}/v1/launches/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${BROKER_TOKEN}` } })
  if (reply.status !== 200) throw new Error(`GET /v1/launches/${id}: ${reply.status} ${await reply.text()}`)
  return await reply.json() as BrokerRecord
}

/** grace launches ds101 with the given image from the platform's page, like a browser without scripts. */
async function launchAsGrace (started: Started, image: string): Promise<{ launch: Awaited<ReturnType<BrowserClient['followLaunch']>>, launchId: string | undefined }> {
  const client = new BrowserClient()
  const home = await signIn(client, started.platformUrl, 'grace')
  const launch = await client.followLaunch(`${started.platformUrl}/launch`, {
    method: 'POST',
    form: launchFormFields(home, { course: 'ds101', image }),
    initiator: home.url,
    refresh: true,
    maxRefreshWaitMs: 1000,
    maxSteps: 120
  })
  const progress = launch.steps.find((step) => step.url.startsWith(`${started.brokerUrl}/launches/`))
  return { launch, launchId: progress === undefined ? undefined : new URL(progress.url).pathname.split('/')[2] }
}

t.test('pnpm start: a click on Launch ends in JupyterLab on a real local hub', async (t) => {
  const started = await startLauncher(t, 's14-start')
  t.match(started.proc.tail(400), /JupyterHub at http:\/\/localhost:\d+: each launch starts a local JupyterLab/, 'the launcher says it runs a real hub')
  const username = USERS.grace.email
  const { launch, launchId } = await launchAsGrace(started, IMAGES.pytorch)
  const page = launch.page
  t.equal(page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  t.match(page.url, new RegExp(`^${started.hubUrl}/user/${username.replace('.', '\\.')}/[a-z0-9-]+/lab`), 'in grace\'s named server, JupyterLab')
  t.match(page.body, /<title>JupyterLab<\/title>/, 'the JupyterLab page is served')

  t.ok(launchId, 'the browser passed the broker\'s progress page')
  const record = await brokerRecord(started.brokerUrl, launchId ?? '')
  t.match(record, { status: 'ready', username, image: IMAGES.pytorch })
  t.ok(record.progress.some((entry) => entry.message.includes(`Starting a local JupyterLab: this hub has no containers, so ${IMAGES.pytorch} would run only under DockerSpawner or KubeSpawner`)),
    `the hub's progress, passed on by the broker, says what runs instead of the image: ${record.progress.map((entry) => entry.message).join(' | ')}`)

  // The hub, through the broker's own token (kept in the state directory).
  const token = readFileSync(path.join(started.stateDir, 'hub-broker-token'), 'utf8').trim()
  const hub = new HubApi(`${started.hubUrl.replace('localhost', '127.0.0.1')}/hub/api`, token)
  const model = await hub.user(username)
  const server = model?.servers?.[record.serverName]
  t.equal(server?.ready, true, 'the named server runs')
  t.same(server?.user_options, { image: IMAGES.pytorch }, 'the broker started it with user_options {image}')
  const found = singleUserServer(path.join(started.stateDir, 'hub', 'home', username), `/user/${username}/${record.serverName}/`)
  t.ok(found, 'the single-user server runs as a local process, its home in the state directory')
  const environ = found?.environ ?? {}
  t.equal(environ.JUPYTER_IMAGE, IMAGES.pytorch, 'JUPYTER_IMAGE in the server\'s environment')
  t.equal(environ.LTILAUNCH_IMAGE, IMAGES.pytorch, 'LTILAUNCH_IMAGE in the server\'s environment')
  t.same([...(model?.groups ?? [])].sort(), ['course:ds101', 'staff'], 'groups from tool-auth\'s userinfo')

  // The spawner refuses an image that is not allowed (as DockerSpawner does); the hub answers the
  // start at once (slow_spawn_timeout 0), so the refusal is the spawn's failure in its progress.
  const status = await hub.startServer(username, 'other', { image: 'quay.io/someone/else:latest' }).catch((err: unknown) => err)
  const failure = await hub.waitForServer(username, 'other', 30_000).then(() => undefined, (err: unknown) => (err as Error).message)
  t.match(failure, /quay\.io\/someone\/else:latest' is not allowed/, `an image not allowed is refused (the start answered ${String(status)})`)
  t.notOk((await hub.user(username))?.servers?.other?.ready, 'and nothing runs for it')

  // Stopping the launcher stops everything it started, the user's server too.
  const pid = found?.pid
  await started.proc.stop()
  const alive = (p: number | undefined): boolean => {
    if (p === undefined) return false
    try {
      process.kill(p, 0)
      return true
    } catch {
      return false
    }
  }
  const deadline = Date.now() + 15_000
  while (alive(pid) && Date.now() < deadline) await sleep(250)
  t.notOk(alive(pid), 'the single-user server stopped with the launcher')
  const stillUp = await fetch(`${started.platformUrl}/readyz`).then(() => true, () => false)
  t.notOk(stillUp, 'the platform stopped with the launcher')
})

t.test('pnpm start in Chromium: sign-in, launch form, progress page and JupyterLab, each asserted and saved', async (t) => {
  // This run's screenshots only: an earlier run's (of a page since changed) would mislead.
  for (const file of (() => { try { return readdirSync(screenshotDir) } catch { return [] } })()) {
    if (/^14-.*\.png$/.test(file)) rmSync(path.join(screenshotDir, file))
  }
  const started = await startLauncher(t, 's14-chromium')
  const browser = await launchChromium(t)
  const context = await newContext(browser)
  t.teardown(async () => { await context.close() })
  const page: Page = await context.newPage()
  // Our pages must show no console error, and their CSP must block nothing on them.
  const ours = [started.platformUrl, started.toolAuthUrl, started.brokerUrl]
  const problems: string[] = []
  page.on('console', (message) => {
    const where = message.location().url
    if ((message.type() === 'error' || /Content Security Policy/i.test(message.text())) && ours.some((origin) => where.startsWith(origin))) problems.push(`${where}: ${message.text()}`)
  })
  page.on('pageerror', (err) => { if (ours.some((origin) => page.url().startsWith(origin))) problems.push(`${page.url()}: ${err.message}`) })

  await page.goto(`${started.platformUrl}/login`)
  await page.fill('#username', 'grace')
  await page.fill('#password', USERS.grace.password)
  t.equal(await page.getAttribute('#password', 'type'), 'password', 'the sign-in page asks for a password')
  await screenshot(page, '14-1-sign-in')
  await Promise.all([page.waitForURL(`${started.platformUrl}/`), page.click('button[type=submit]')])
  t.match(await page.textContent('body'), /Signed in as Grace Hopper/, 'signed in: the launch form')

  // The role beside the course follows the choice, by script; the server rendered the first course's.
  t.equal(await page.textContent('#course-role'), 'staff', 'grace teaches ds101: staff')
  await page.selectOption('#course', 'ml201')
  t.equal(await page.textContent('#course-role'), 'learner', 'and takes ml201: learner')
  t.equal(await page.textContent('#course-roles'), 'Learner')
  await page.selectOption('#course', 'ds101')
  t.equal(await page.textContent('#course-role'), 'staff')
  await page.selectOption('#image', IMAGES.scipy)
  t.equal(await page.$eval('#image option:checked', (el) => el.textContent), 'SciPy notebook', 'the image by its name')
  t.match(await page.textContent('#image-description'), /NumPy, pandas, SciPy/, 'and its description, following the choice')
  await screenshot(page, '14-2-launch-form')

  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(`${started.brokerUrl}/launches/`), { waitUntil: 'domcontentloaded', timeout: 30_000 }),
    page.click('button:has-text("Launch")')
  ])
  await screenshot(page, '14-3-progress')
  t.match(await page.textContent('h1'), /Starting your notebook server/, 'the progress page')
  t.equal(await page.getAttribute('#bar', 'max'), '100', 'with a progress bar')
  t.match(await page.textContent('#elapsed'), /^\d+ s$/, 'and the elapsed time')
  // Follow the page until it leaves for the hub: its script, not a reload, moves the bar and adds steps.
  const samples: Array<{ value: number, steps: number, probe: number }> = []
  let shotSteps = 0
  while (page.url().startsWith(`${started.brokerUrl}/launches/`)) {
    // In the page (a string: this package's TypeScript has no DOM types). The mark on
    // the window is lost by a reload, so one mark throughout means the script did it all.
    const sample = await page.evaluate<{ value: number, steps: number, probe: number }>(`(() => {
      window.probe = window.probe ?? Math.random()
      var bar = document.getElementById('bar')
      return { value: bar ? bar.value : -1, steps: document.querySelectorAll('#progress li').length, probe: window.probe }
    })()`).catch(() => undefined)
    if (sample === undefined) break
    samples.push(sample)
    // The picture worth keeping has the hub's own events in it: taken again as steps come.
    if (sample.steps > shotSteps && sample.steps >= 4 && await screenshot(page, '14-3-progress').then(() => true, () => false)) shotSteps = sample.steps
    await page.waitForTimeout(100)
  }
  const first = samples[0]
  const last = samples.at(-1)
  t.ok(first !== undefined && last !== undefined && last.steps > first.steps, `the steps grew live (${first?.steps} → ${last?.steps} in ${samples.length} looks)`)
  t.ok(first !== undefined && last !== undefined && last.value > first.value, `the bar moved live (${first?.value}% → ${last?.value}%)`)
  t.equal(new Set(samples.map((sample) => sample.probe)).size, 1, 'in the same page: no reload')

  const username = USERS.grace.email
  await page.waitForURL(new RegExp(`^${started.hubUrl}/user/[^/]+/[a-z0-9-]+/lab`), { timeout: 90_000 })
  await page.waitForSelector('#jp-main-dock-panel, .jp-LabShell', { timeout: 60_000 })
  await page.waitForTimeout(1500) // let the launcher paint, for the screenshot
  await screenshot(page, '14-4-jupyterlab')
  t.match(decodeURIComponent(page.url()), `/user/${username}/`, 'JupyterLab, in grace\'s own server')
  t.equal(await page.title(), 'JupyterLab')
  t.same(problems, [], 'no console error and nothing blocked by the CSP on our pages')
  await started.proc.stop()
})

t.test('pnpm start -- --dry-run keeps the dry run', async (t) => {
  const started = await startLauncher(t, 's14-dry', { args: ['--', '--dry-run'] })
  t.match(started.proc.tail(400), /\[start\] dry run \(as asked\)/)
  const { launchId } = await launchAsGrace(started, IMAGES.scipy)
  t.ok(launchId, 'the browser reached the progress page')
  const record = await brokerRecord(started.brokerUrl, launchId ?? '')
  t.equal(record.status, 'ready')
  t.ok(record.progress.some((entry) => entry.message.startsWith('Dry run: nothing was started')), 'the broker did a dry run')
})

t.test('without Python the start says why in one line and does a dry run', async (t) => {
  const started = await startLauncher(t, 's14-nopython', { env: { LTILAUNCH_PYTHON: '/nonexistent/python3', LTILAUNCH_HUB_VENV: path.join(outputDir, 'e2e', 'no-such-venv') } })
  const reason = /\[start\] no local JupyterHub, so a dry run: (.*)/.exec(started.proc.tail(400))?.[1]
  t.match(reason, /JupyterHub needs Python 3\.10\+ with venv and pip: `\/nonexistent\/python3` did not run/, 'the reason, in one line')
  const { launchId } = await launchAsGrace(started, IMAGES.minimal)
  const record = await brokerRecord(started.brokerUrl, launchId ?? '')
  t.ok(record.progress.some((entry) => entry.message.startsWith('Dry run: nothing was started')), 'the broker did a dry run')
})
