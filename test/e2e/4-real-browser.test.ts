/**
 * Scenario 4: in a real browser. Headless chromium (Debian's, driven by
 * playwright-core) signs in to the platform, chooses a course and an image,
 * presses Launch, passes through tool-auth and the broker's progress page
 * (its script follows the server-sent events) and lands inside the running
 * JupyterLab, for a staff member and a learner. A screenshot of each page
 * is saved under test/output/screenshots/ (4-<user>-<n>-<page>.png).
 */
import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { launchChromium, newContext, screenshot, screenshotDir, type Page } from '../harness/chromium.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { spawnerRecord } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, planStack, startStack, USERS, type DemoUser } from './stack.js'

const started = Date.now()
// This run's screenshots only: an earlier run's (e.g. of a page since fixed) would mislead.
for (const file of (() => { try { return readdirSync(screenshotDir) } catch { return [] } })()) {
  if (/^4-.*\.png$/.test(file)) rmSync(path.join(screenshotDir, file))
}
const plan = await planStack('s4')
const hub = await startJupyterHub(t, {
  name: 's4-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
await startStack(t, plan, { hub })
const browser = await launchChromium(t)
t.comment(`hub, stack and chromium ready in ${Date.now() - started} ms`)

const cases: Array<{ user: DemoUser, course: string, image: string, imageLabel: string, role: string }> = [
  { user: 'grace', course: 'ds101', image: IMAGES.scipy, imageLabel: 'SciPy notebook', role: 'staff' },
  { user: 'ada', course: 'ds101', image: IMAGES.pytorch, imageLabel: 'PyTorch notebook', role: 'learner' }
]

for (const c of cases) {
  t.test(`${c.user} (${c.role}) launches from chromium into JupyterLab`, async (t) => {
    const launchStarted = Date.now()
    const context = await newContext(browser)
    t.teardown(async () => { await context.close() })
    const page: Page = await context.newPage()
    const visited: string[] = []
    // Every top-level navigation request, redirects included (framenavigated sees only the pages that commit).
    page.on('request', (request) => { if (request.isNavigationRequest() && request.frame() === page.mainFrame()) visited.push(request.url()) })
    // Our pages' CSP (hashes of their inline script and style) must block nothing of theirs.
    const ours = [plan.platformUrl, plan.toolAuthUrl, plan.brokerUrl]
    const blocked: string[] = []
    page.on('console', (message) => {
      const where = message.location().url
      if (/Content Security Policy/i.test(message.text()) && ours.some((origin) => where.startsWith(origin))) blocked.push(`${where}: ${message.text()}`)
    })
    const shots: string[] = []
    const shot = async (n: number, what: string): Promise<void> => { shots.push(await screenshot(page, `4-${c.user}-${n}-${what}`)) }

    await page.goto(`${plan.platformUrl}/login`)
    await page.fill('#username', c.user)
    await page.fill('#password', USERS[c.user].password)
    await shot(1, 'sign-in')
    await Promise.all([page.waitForURL(`${plan.platformUrl}/`), page.click('button[type=submit]')])
    t.match(await page.textContent('body'), /Signed in as/, 'signed in: the launch page')

    await page.selectOption('#course', c.course)
    await page.selectOption('#image', c.image)
    await shot(2, 'launch-form')
    t.equal(await page.$eval('#image option:checked', (el) => el.textContent), c.imageLabel, 'the chosen image is selected')

    // Launch: platform → tool-auth → platform (form_post) → tool-auth → the broker's progress page.
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(`${plan.brokerUrl}/launches/`), { waitUntil: 'domcontentloaded', timeout: 30_000 }),
      page.click('button:has-text("Launch")')
    ])
    await shot(3, 'progress')
    const progressText = await page.textContent('body') ?? ''
    t.ok(progressText.includes(c.image) || progressText.includes(c.course) || progressText.includes('DS101'), 'the progress page names the launch')

    // The page's script follows the launch and sends the browser to the hub, which signs in through tool-auth.
    const username = USERS[c.user].email
    const inLab = new RegExp(`^${hub.url.replace(/[.]/g, '\\.')}/user/[^/]+/[a-z0-9-]+/lab`)
    const landed = await landing(page, inLab)
    await shot(4, landed.lab ? 'jupyterlab' : 'landing')
    t.ok(landed.lab, `JupyterLab is served where the launch lands (${landed.url}, title "${landed.title}")`)
    t.match(decodeURIComponent(page.url()), `/user/${username}/`, 'in the user\'s own server')
    if (!landed.lab) {
      // Where the hub itself says the server is, in the same browser.
      const model = await hub.api.user(username)
      const serverUrl = Object.values(model?.servers ?? {}).find((s) => s.ready)?.url ?? ''
      const direct = await landing(page, inLab, `${hub.url}${serverUrl}`)
      await shot(5, direct.lab ? 'jupyterlab-at-hub-url' : 'hub-url')
      t.ok(direct.lab, `JupyterLab at the hub's own server URL ${serverUrl} (${direct.url}, title "${direct.title}")`)
    }

    const origins = [...new Set(visited.map((url) => new URL(url).origin))]
    t.ok(origins.includes(plan.toolAuthUrl), 'passed through tool-auth')
    t.ok(visited.some((url) => url.startsWith(`${plan.toolAuthUrl}/oauth2/authorize`)), 'the hub signed in through tool-auth')
    t.ok(visited.some((url) => url.startsWith(`${plan.brokerUrl}/launches/`)), 'passed the progress page')
    t.same(blocked, [], 'the CSP of our pages blocked nothing on them')

    const model = await hub.api.user(username)
    const [serverName, server] = Object.entries(model?.servers ?? {}).find(([, s]) => s.ready) ?? []
    t.equal(server?.ready, true, 'the named server runs')
    t.equal(spawnerRecord(hub, username, serverName ?? '').image, c.image, 'with the chosen image')
    t.ok(model?.groups.includes(c.role), `in the ${c.role} group`)
    t.comment(`${c.user}: ${Date.now() - launchStarted} ms; screenshots: ${shots.join(', ')}`)
    t.comment(`visited: ${visited.map((url) => url.replace(/\?.*/, '')).join(' → ')}`)
  })
}

/**
 * Waits until the page is JupyterLab, or has come to rest on some other page
 * of the hub (an error, a redirect loop cut short), and says which.
 */
async function landing (page: Page, lab: RegExp, goto?: string): Promise<{ lab: boolean, url: string, title: string }> {
  if (goto !== undefined) await page.goto(goto, { timeout: 30_000 }).catch(() => {})
  const deadline = Date.now() + 60_000
  let quietSince = Date.now()
  let last = page.url()
  while (Date.now() < deadline) {
    if (lab.test(page.url())) {
      const shell = await page.waitForSelector('#jp-main-dock-panel, .jp-LabShell', { timeout: 30_000 }).then(() => true, () => false)
      if (shell) await page.waitForTimeout(1500) // let the launcher paint, for the screenshot
      return { lab: shell, url: page.url(), title: await page.title() }
    }
    if (page.url() !== last) {
      last = page.url()
      quietSince = Date.now()
    } else if (!last.includes('/launches/') && Date.now() - quietSince > 5000) {
      break // past the progress page and resting on a page that is not JupyterLab
    }
    await page.waitForTimeout(250)
  }
  return { lab: false, url: page.url(), title: await page.title().catch(() => '') }
}

t.test('timing', async (t) => {
  t.comment(`scenario 4: ${Date.now() - started} ms`)
  t.pass()
})
