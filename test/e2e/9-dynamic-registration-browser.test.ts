/**
 * Scenario 8: registration by URL in a real browser. Headless chromium signs
 * in to the platform as the admin, pastes tool-auth's one-time link on the
 * Tools page, confirms on tool-auth's page inside the platform's frame, and
 * the tool's `org.imsglobal.lti.close` message (posted to the frame's
 * parent) sends the platform page back to its list, which shows the new
 * tool. This is what the pages' scripts and headers must allow: the frame,
 * the inline scripts, the cross-origin message. Screenshots under
 * test/output/screenshots/9-<n>-<page>.png.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { launchChromium, newContext, screenshot } from '../harness/chromium.js'
import { planStack, servicesDir, startStack, USERS } from './stack.js'

const run = promisify(execFile)
const started = Date.now()
const plan = await planStack('s9')
const stack = await startStack(t, plan, { tools: [], registerByUrl: true })
const browser = await launchChromium(t)
t.comment(`stack and chromium ready in ${Date.now() - started} ms`)

t.test('the admin registers tool-auth by URL in chromium; the close message returns to the list', async (t) => {
  const { stdout } = await run(process.execPath, [path.join(servicesDir, 'tool-auth', 'dist', 'cli', 'registrations.js'), 'link'], { env: stack.toolAuthEnv, timeout: 20_000 })
  const link = stdout.split('\n')[0] as string
  const context = await newContext(browser)
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  const errors: string[] = []
  // The browser's own favicon request is the one 404 that does not matter.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) errors.push(`${message.text()} ${message.location().url}`)
  })

  await page.goto(`${plan.platformUrl}/login`)
  await page.fill('#username', 'alan')
  await page.fill('#password', USERS.alan.password)
  await Promise.all([page.waitForURL(`${plan.platformUrl}/`), page.click('button[type=submit]')])
  await Promise.all([page.waitForURL(`${plan.platformUrl}/admin/tools`), page.click('a[href="/admin/tools"]')])
  await page.fill('#url', link)
  await screenshot(page, '9-1-tools')
  await Promise.all([page.waitForURL(`${plan.platformUrl}/admin/tools/register`), page.click('button[type=submit]')])

  const frame = page.frameLocator('#registration')
  await frame.locator('button[type=submit]').waitFor({ timeout: 15_000 })
  t.match(await frame.locator('body').textContent(), plan.platformUrl, 'tool-auth\'s page, in the frame, names the platform')
  await screenshot(page, '9-2-confirm-in-frame')
  // Confirming registers; the tool's page posts org.imsglobal.lti.close to the platform's page.
  await Promise.all([
    page.waitForURL(`${plan.platformUrl}/admin/tools`, { timeout: 15_000 }),
    frame.locator('button[type=submit]').click()
  ])
  const body = await page.textContent('body') ?? ''
  t.match(body, /by URL, .* by alan/, 'the list shows the tool registered by URL')
  t.match(body, plan.toolAuthUrl, 'with tool-auth\'s login initiation URL')
  await screenshot(page, '9-3-registered')
  t.same(errors, [], 'no script or policy error in the console')
  t.comment(`scenario 8: ${Date.now() - started} ms`)
})
