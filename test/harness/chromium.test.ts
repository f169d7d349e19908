import { statSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { launchChromium, newContext, screenshot } from './chromium.js'

t.test('headless chromium follows a self-submitting form and is photographed', async (t) => {
  const server = http.createServer((req, res) => {
    if (req.url === '/start') {
      res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'seen=1; Path=/; SameSite=Lax' })
      res.end('<form id="autosubmit" method="post" action="/done"><input type="hidden" name="x" value="a&amp;b"></form><script>document.getElementById("autosubmit").submit()</script>')
      return
    }
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<html><head><title>done</title></head><body><h1 id="result">${req.method} ${decodeURIComponent(body)} ${req.headers.cookie ?? ''}</h1></body></html>`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const { port } = server.address() as AddressInfo

  const started = Date.now()
  const browser = await launchChromium(t)
  t.comment(`chromium ${browser.version()} launched in ${Date.now() - started} ms`)
  const page = await (await newContext(browser)).newPage()
  await page.goto(`http://127.0.0.1:${port}/start`)
  await page.waitForURL(`http://127.0.0.1:${port}/done`)
  t.equal(await page.textContent('#result'), 'POST x=a&b seen=1')
  const file = await screenshot(page, 'harness-chromium-smoke')
  t.ok(statSync(file).size > 1000, `a screenshot at ${file}`)
})
