/**
 * Scenario 6: launches inside the platform's iframe, in Debian's Chromium,
 * whose headless profile blocks third-party cookies (checked below: the
 * callback in the frame arrives without the state cookie). The platform is on
 * 127.0.0.1, tool-auth, the broker and the hub on localhost: different sites.
 *
 * 1. framed, platform storage on: tool-auth binds the state through
 *    lti.put_data/lti.get_data, the frame offers a new tab, and the new tab
 *    ends in JupyterLab with the chosen image;
 * 2. the attack: the attacker's state and id_token (from the attacker's own
 *    framed launch) are posted into the victim's browser from another site:
 *    refused, nothing opened;
 * 3. framed, platform storage off (the platform restarted with
 *    PLATFORM_STORAGE=false): the frame refuses before the one-time hint is
 *    spent, and "Open in a new window" ends in JupyterLab.
 * Top-level launches are scenario 4, unchanged.
 * Screenshots: test/output/screenshots/13-*.png.
 */
import { readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { launchChromium, newContext, screenshot, screenshotDir, type BrowserContext, type Page } from '../harness/chromium.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { freePorts } from '../harness/processes.js'
import { spawnerRecord } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, planStack, startStack, USERS, type DemoUser, type StackPlan } from './stack.js'

const started = Date.now()
for (const file of (() => { try { return readdirSync(screenshotDir) } catch { return [] } })()) {
  if (/^6-.*\.png$/.test(file)) rmSync(path.join(screenshotDir, file))
}

// The tools on another site than the platform: localhost vs 127.0.0.1.
const base = await planStack('s13')
const onLocalhost = (url: string): string => url.replace('//127.0.0.1:', '//localhost:')
const plan: StackPlan = { ...base, toolAuthUrl: onLocalhost(base.toolAuthUrl), brokerUrl: onLocalhost(base.brokerUrl), hubUrl: onLocalhost(base.hubUrl) }
const hub = await startJupyterHub(t, {
  name: 's13-hub',
  port: plan.hubPort,
  // The hub's own calls to tool-auth go straight to 127.0.0.1; the browser's go to localhost.
  config: genericOAuthHubConfig(plan)
    .replace(`${plan.toolAuthUrl}/oauth2/token`, `${base.toolAuthUrl}/oauth2/token`)
    .replace(`${plan.toolAuthUrl}/oauth2/userinfo`, `${base.toolAuthUrl}/oauth2/userinfo`),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
let stack = await startStack(t, plan, { hub, env: { broker: { HUB_URL: base.hubUrl } } })
const browser = await launchChromium(t)
t.comment(`hub, stack and chromium ready in ${Date.now() - started} ms`)

const callbackPath = '/lti13/oauth_callback'
const inLab = new RegExp(`^${plan.hubUrl.replace(/[.]/g, '\\.')}/user/[^/]+/[a-z0-9-]+/lab`)

/** Signs in and starts a launch shown in the platform's frame. */
async function framedLaunch (context: BrowserContext, user: DemoUser, image: string, shot?: (n: number, what: string, page: Page) => Promise<void>): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${plan.platformUrl}/login`)
  await page.fill('#username', user)
  await page.fill('#password', USERS[user].password)
  await Promise.all([page.waitForURL(`${plan.platformUrl}/`), page.click('button[type=submit]')])
  await page.selectOption('#course', 'ds101')
  await page.selectOption('#image', image)
  await page.selectOption('#presentation', 'iframe')
  await shot?.(1, 'launch-form', page)
  await Promise.all([page.waitForURL(`${plan.platformUrl}/launch`), page.click('button:has-text("Launch")')])
  return page
}

/** The cookies each callback POST to tool-auth carried (all frames of the context). */
function watchCallbacks (context: BrowserContext): Array<{ cookie: string, body: string, dest: string }> {
  const seen: Array<{ cookie: string, body: string, dest: string }> = []
  context.on('request', (request) => {
    if (request.method() !== 'POST' || !request.url().startsWith(`${plan.toolAuthUrl}${callbackPath}`)) return
    request.allHeaders().then((headers) => {
      seen.push({ cookie: headers.cookie ?? '', body: request.postData() ?? '', dest: headers['sec-fetch-dest'] ?? '' })
    }, () => {})
  })
  return seen
}

/** Waits for a selector in the tool's frame; on a timeout, says where the frame is and what it shows. */
async function inFrame (page: Page, selector: string, name: string): Promise<void> {
  try {
    await page.frameLocator('#lti-tool').locator(selector).waitFor({ timeout: 30_000 })
  } catch (err) {
    await screenshot(page, `13-failed-${name}`)
    const frame = page.frames().find((f) => f !== page.mainFrame())
    const text = await frame?.evaluate('document.body.innerText').then(String, (e: Error) => e.message)
    throw new Error(`${selector} never appeared in the frame: it is at ${frame?.url() ?? '(none)'} showing ${JSON.stringify(text?.slice(0, 600))}`, { cause: err })
  }
}

/** Waits until the page is JupyterLab (true), or rests on another page (false). */
async function reachesLab (page: Page): Promise<boolean> {
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (inLab.test(page.url())) {
      const shell = await page.waitForSelector('#jp-main-dock-panel, .jp-LabShell', { timeout: 30_000 }).then(() => true, () => false)
      if (shell) await page.waitForTimeout(1500)
      return shell
    }
    await page.waitForTimeout(250)
  }
  return false
}

async function checkServer (t: Test, user: DemoUser, image: string): Promise<void> {
  const email = USERS[user].email
  const model = await hub.api.user(email)
  const [serverName, server] = Object.entries(model?.servers ?? {}).find(([, s]) => s.ready) ?? []
  t.equal(server?.ready, true, `${email}'s named server runs`)
  t.equal(spawnerRecord(hub, email, serverName ?? '').image, image, 'with the chosen image')
}

t.test('1. framed launch with platform storage: bound without cookies, then JupyterLab in a new tab', async (t) => {
  const context = await newContext(browser)
  t.teardown(async () => { await context.close() })
  const callbacks = watchCallbacks(context)
  const shot = async (n: number, what: string, page: Page): Promise<void> => { await screenshot(page, `13-1-${n}-${what}`) }

  const page = await framedLaunch(context, 'ada', IMAGES.scipy, shot)
  const frame = page.frameLocator('#lti-tool')
  await inFrame(page, '#open-tab', 'open-tab')
  await shot(2, 'framed-open-in-new-tab', page)
  t.match(await frame.locator('h1').textContent(), /starting/, 'the frame says the server is starting')

  // In the frame the browser never sent the state cookie: the binding came from the platform's storage.
  t.ok(callbacks.length >= 2, `the platform's form_post and our read page's post reached the callback (${callbacks.length})`)
  t.ok(callbacks.every((c) => c.dest === 'iframe'), 'both inside the frame')
  t.ok(callbacks.every((c) => !c.cookie.includes('lti13_state')), 'no state cookie came with either: third-party cookies are blocked')
  t.ok(callbacks.some((c) => c.body.includes('storage_binding=') && !/storage_binding=(&|$)/.test(c.body)), 'the value read from platform storage was posted')

  const [tab] = await Promise.all([context.waitForEvent('page'), frame.locator('#open-tab').click()])
  await tab.waitForURL((url) => url.href.startsWith(`${plan.brokerUrl}/launches/`) || inLab.test(url.href), { timeout: 30_000 })
  if (tab.url().includes('/launches/')) await shot(3, 'new-tab-progress', tab)
  const lab = await reachesLab(tab)
  await shot(4, lab ? 'new-tab-jupyterlab' : 'new-tab-landing', tab)
  t.ok(lab, `JupyterLab in the new tab (${tab.url()})`)
  await checkServer(t, 'ada', IMAGES.scipy)
})

t.test('2. the attack: an attacker\'s state and id_token posted into the victim\'s browser are refused, nothing opened', async (t) => {
  // The attacker launches in their own browser, keeps the form_post for themselves, and learns their storage secret.
  const attacker = await newContext(browser)
  t.teardown(async () => { await attacker.close() })
  // The attacker watches the messages their own platform page receives (their browser, their devtools).
  await attacker.addInitScript('window.__ltiSeen = []; window.addEventListener("message", function (e) { window.__ltiSeen.push(e.data) })')
  let taken: (fields: URLSearchParams) => void = () => {}
  const formPost = new Promise<URLSearchParams>((resolve) => { taken = resolve })
  await attacker.route((url) => url.href.startsWith(`${plan.toolAuthUrl}${callbackPath}`), async (route) => {
    taken(new URLSearchParams(route.request().postData() ?? ''))
    await route.fulfill({ status: 204, body: '' })
  })
  const attackerPage = await framedLaunch(attacker, 'alan', IMAGES.minimal)
  const stolen = await Promise.race([formPost, sleep(30_000).then(() => undefined)])
  if (stolen === undefined) {
    await screenshot(attackerPage, '13-failed-attacker')
    const frame = attackerPage.frames().find((f) => f !== attackerPage.mainFrame())
    throw new Error(`the attacker never got a form_post; the frame is at ${frame?.url() ?? '(none)'}`)
  }
  const seen = JSON.parse(String(await attackerPage.evaluate('JSON.stringify(window.__ltiSeen)'))) as Array<{ subject?: string, value?: string }>
  const secret = seen.find((message) => message.subject === 'lti.put_data')?.value ?? ''
  t.ok(stolen.get('id_token') && stolen.get('state'), 'the attacker holds a real state and id_token for their own account')
  t.ok(secret, 'and the secret their own login kept in platform storage')

  // The attacker's site, on another port: a page that posts into the victim's browser.
  const [port] = await freePorts(1) as [number]
  const evil = http.createServer((request, response) => {
    const fields = new URLSearchParams(stolen)
    if (request.url === '/with-secret') fields.set('storage_binding', secret)
    const inputs = [...fields].map(([name, value]) => `<input type="hidden" name="${name}" value="${value.replace(/"/g, '&quot;')}">`).join('')
    response.setHeader('content-type', 'text/html')
    response.end(`<form id="f" method="post" action="${plan.toolAuthUrl}${callbackPath}">${inputs}</form><script>document.getElementById('f').submit()</script>`)
  })
  await new Promise<void>((resolve) => evil.listen(port, '127.0.0.2', resolve))
  t.teardown(() => { evil.close() })

  const victim = await newContext(browser)
  t.teardown(async () => { await victim.close() })
  const page = await victim.newPage()
  await page.goto(`http://127.0.0.2:${port}/plain`)
  await page.waitForSelector('#failed:not([hidden])', { timeout: 30_000 })
  await screenshot(page, '13-2-1-attack-refused')
  t.match(await page.textContent('body'), /TOOL_AUTH_LAUNCH_UNBOUND/, 'the read page finds nothing for this launch in the victim\'s browser')

  const direct = await victim.newPage()
  const answer = direct.waitForResponse((response) => response.url().startsWith(`${plan.toolAuthUrl}${callbackPath}`))
  await direct.goto(`http://127.0.0.2:${port}/with-secret`)
  const refused = await answer
  t.equal(refused.status(), 403, 'the attacker\'s own storage value, posted from their site, is refused')
  await direct.waitForLoadState()
  await screenshot(direct, '13-2-2-attack-with-secret-refused')
  t.match(await direct.textContent('body'), /TOOL_AUTH_BINDING_MISMATCH/)

  const cookies = await victim.cookies(plan.toolAuthUrl)
  t.notOk(cookies.some((c) => c.name === 'ltilaunch_session'), 'no tool-auth session in the victim\'s browser')
  await sleep(2000)
  t.equal(await hub.api.user(USERS.alan.email), undefined, 'no hub user and no server for the attacker\'s account')
})

t.test('2b. the platform\'s storage answers the framed tool from its origin, and nothing from another origin', async (t) => {
  // The framing page's CSP lets it frame only the tool and itself (checked at
  // the end); to show that its storage refuses other origins all the same,
  // this browser ignores the CSP and frames another site beside the tool.
  const context = await newContext(browser, { bypassCSP: true })
  t.teardown(async () => { await context.close() })
  // The launch is held at the callback: the frame stays on a page of the tool's origin.
  await context.route((url) => url.href.startsWith(`${plan.toolAuthUrl}${callbackPath}`), async (route) => {
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>held</p>' })
  })
  const page = await framedLaunch(context, 'alan', IMAGES.minimal)
  const deadline = Date.now() + 30_000
  let tool = page.frames().find((f) => f.url().startsWith(`${plan.toolAuthUrl}${callbackPath}`))
  while (tool === undefined && Date.now() < deadline) {
    await sleep(200)
    tool = page.frames().find((f) => f.url().startsWith(`${plan.toolAuthUrl}${callbackPath}`))
  }
  if (tool === undefined) throw new Error('the frame never reached the callback')

  const [port] = await freePorts(1) as [number]
  const other = http.createServer((_request, response) => { response.setHeader('content-type', 'text/html'); response.end('<p>another site</p>') })
  await new Promise<void>((resolve) => other.listen(port, '127.0.0.2', resolve))
  t.teardown(() => { other.close() })
  await page.evaluate(`(() => { const f = document.createElement('iframe'); f.id = 'other'; f.src = 'http://127.0.0.2:${port}/'; document.body.appendChild(f) })()`)
  let stranger = page.frames().find((f) => f.url().startsWith('http://127.0.0.2'))
  while (stranger === undefined && Date.now() < deadline) {
    await sleep(200)
    stranger = page.frames().find((f) => f.url().startsWith('http://127.0.0.2'))
  }
  if (stranger === undefined) throw new Error('the other site\'s frame never loaded')
  await stranger.waitForLoadState()

  // Posts a message to the platform's page and gives its answer, or 'silent' after 1.5 s.
  const probe = (message: Record<string, string>): string => `new Promise((resolve) => {
    window.addEventListener('message', (e) => resolve(JSON.stringify(e.data)));
    window.parent.postMessage(${JSON.stringify(message)}, '*');
    setTimeout(() => resolve('silent'), 1500);
  })`
  const put = { subject: 'lti.put_data', message_id: 'p1', key: 'probe', value: 'kept' }
  const get = { subject: 'lti.get_data', message_id: 'g1', key: 'probe' }
  const caps = { subject: 'lti.capabilities', message_id: 'c1' }

  const toolCaps = JSON.parse(String(await tool.evaluate(probe(caps)))) as { supported_messages: Array<{ subject: string }> }
  t.same(toolCaps.supported_messages.map((m) => m.subject), ['lti.capabilities', 'lti.put_data', 'lti.get_data'], 'the tool is told what the platform offers')
  t.match(JSON.parse(String(await tool.evaluate(probe(put)))), { subject: 'lti.put_data.response', message_id: 'p1', key: 'probe', value: 'kept' })
  t.match(JSON.parse(String(await tool.evaluate(probe(get)))), { subject: 'lti.get_data.response', message_id: 'g1', value: 'kept' }, 'and gets its value back')

  t.equal(await stranger.evaluate(probe(caps)), 'silent', 'another origin gets no capabilities')
  t.equal(await stranger.evaluate(probe(get)), 'silent', 'nor the tool\'s value')
  t.equal(await stranger.evaluate(probe({ ...put, value: 'planted' })), 'silent', 'nor can it store')
  t.match(JSON.parse(String(await tool.evaluate(probe(get)))), { value: 'kept' }, 'the tool\'s value is unchanged')
})

t.test('3. framed launch without platform storage: refused in the frame, then JupyterLab through a new window', async (t) => {
  await stack.stop()
  stack = await startStack(t, plan, { hub, env: { broker: { HUB_URL: base.hubUrl }, platform: { PLATFORM_STORAGE: 'false' } } })
  const context = await newContext(browser)
  t.teardown(async () => { await context.close() })
  const shot = async (n: number, what: string, page: Page): Promise<void> => { await screenshot(page, `13-3-${n}-${what}`) }

  const page = await framedLaunch(context, 'grace', IMAGES.pytorch)
  const frame = page.frameLocator('#lti-tool')
  await inFrame(page, '#new-window', 'new-window')
  await shot(1, 'framed-refused-new-window', page)
  t.match(await frame.locator('body').textContent(), /TOOL_AUTH_LAUNCH_UNBOUND/)

  const [tab] = await Promise.all([context.waitForEvent('page'), frame.locator('#new-window').click()])
  await tab.waitForURL((url) => url.href.startsWith(`${plan.brokerUrl}/launches/`) || inLab.test(url.href), { timeout: 30_000 })
  if (tab.url().includes('/launches/')) await shot(2, 'new-window-progress', tab)
  const lab = await reachesLab(tab)
  await shot(3, lab ? 'new-window-jupyterlab' : 'new-window-landing', tab)
  t.ok(lab, `JupyterLab in the new window (${tab.url()})`)
  await checkServer(t, 'grace', IMAGES.pytorch)
})

t.test('timing', async (t) => {
  t.comment(`scenario 6: ${Date.now() - started} ms`)
  t.pass()
})
