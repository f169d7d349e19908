/**
 * Debian's chromium, driven by playwright-core (no browser download): one
 * browser per test, closed by its teardown, and screenshots saved under
 * test/output/screenshots so that a person can look at each page.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { ensureChromium, outputDir } from '../setup/peers.js'
import type { Teardown } from './processes.js'

export const screenshotDir = path.join(outputDir, 'screenshots')

/** Launches headless chromium (installing it first where CI allows); closed in t's teardown. */
export async function launchChromium (t: Teardown, options: { slowMo?: number } = {}): Promise<Browser> {
  const executablePath = await ensureChromium()
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // A container runs as root without user namespaces: chromium's sandbox cannot start there.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    ...(options.slowMo ? { slowMo: options.slowMo } : {})
  })
  t.teardown(async () => { await browser.close() })
  return browser
}

/** A fresh browser context (its own cookies), 1280×800, English. */
export async function newContext (browser: Browser, options: { bypassCSP?: boolean } = {}): Promise<BrowserContext> {
  return await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', ...options })
}

/** Saves a full-page screenshot as test/output/screenshots/<name>.png and returns its path. */
export async function screenshot (page: Page, name: string): Promise<string> {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`screenshot name ${JSON.stringify(name)} must be a plain file name`)
  mkdirSync(screenshotDir, { recursive: true })
  const file = path.join(screenshotDir, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

export type { Browser, BrowserContext, Page }
