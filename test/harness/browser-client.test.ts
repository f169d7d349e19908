import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { BrowserClient } from './browser-client.js'
import { CookieJar } from './cookies.js'
import { decodeEntities, findAutoSubmitForm, metaRefresh, parseForms } from './html.js'

interface Seen { method: string, path: string, body: string, cookie: string, headers: http.IncomingHttpHeaders }

type Handler = (req: IncomingMessage, res: ServerResponse, body: string, url: URL) => void

/** A small site on 127.0.0.1: routes by path, every request recorded. */
async function site (t: Test, routes: Record<string, Handler>): Promise<{ port: number, seen: Seen[], url: (path: string, host?: string) => string }> {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`)
      seen.push({ method: req.method ?? '', path: url.pathname + url.search, body, cookie: req.headers.cookie ?? '', headers: req.headers })
      const handler = routes[url.pathname]
      if (!handler) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
        return
      }
      handler(req, res, body, url)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const { port } = server.address() as AddressInfo
  return { port, seen, url: (path, host = '127.0.0.1') => `http://${host}:${port}${path}` }
}

function html (res: ServerResponse, body: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(body)
}

function redirect (res: ServerResponse, status: number, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { location, ...headers }).end()
}

t.test('cookies: Path, Max-Age, Expires, host-only and deletion are respected', async (t) => {
  const s = await site(t, {
    '/set': (_req, res) => redirect(res, 302, '/app/page', {
      'set-cookie': [
        'session=abc; Path=/; HttpOnly; SameSite=Lax',
        'scoped=app; Path=/app',
        'other=x; Path=/other',
        'short=1; Max-Age=1',
        'gone=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
        'dated=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT'
      ]
    }),
    '/app/page': (_req, res) => html(res, '<p>page</p>'),
    '/logout': (_req, res) => html(res, 'bye', { 'set-cookie': ['session=; Max-Age=0; Path=/'] }),
    '/check': (_req, res) => html(res, 'ok')
  })
  const client = new BrowserClient()
  const page = await client.get(s.url('/set'))
  t.equal(page.status, 200)
  t.equal(page.url, s.url('/app/page'))
  t.same(page.steps.map((step) => [step.method, step.status, step.via]), [['GET', 302, 'navigate'], ['GET', 200, 'redirect']])
  const atPage = s.seen.at(-1)?.cookie.split('; ') ?? []
  t.same(atPage, ['scoped=app', 'session=abc', 'short=1', 'dated=1'], 'the longest path first, then by creation; other paths and expired ones stay out')

  await client.get(s.url('/check'))
  t.notOk(s.seen.at(-1)?.cookie.includes('scoped'), 'a Path=/app cookie is not sent to /check')

  client.jar.now = () => Date.now() + 5000
  await client.get(s.url('/check'))
  t.notOk(s.seen.at(-1)?.cookie.includes('short='), 'Max-Age=1 has expired five seconds later')
  client.jar.now = () => Date.now()

  await client.get(s.url('/logout'))
  await client.get(s.url('/check'))
  t.notOk(s.seen.at(-1)?.cookie.includes('session='), 'Max-Age=0 deletes the cookie')

  // host-only: a cookie of 127.0.0.1 is not sent to localhost, even on the same port
  await client.get(s.url('/check', 'localhost'))
  t.notOk(s.seen.at(-1)?.cookie.includes('dated='), 'host-only cookies stay on their host')
})

t.test('cookies: Domain attribute, ports and the jar API', async (t) => {
  const jar = new CookieJar()
  jar.setFromResponse('http://app.example.test:3000/x/y', ['wide=1; Domain=.example.test; Path=/', 'narrow=2', 'evil=3; Domain=other.test'])
  t.equal(jar.get('wide', 'http://hub.example.test:8000/'), '1', 'a Domain cookie reaches a sibling host, any port')
  t.equal(jar.get('narrow', 'http://app.example.test:4000/x/z'), '2', 'a host-only cookie reaches its host on another port, default path /x')
  t.equal(jar.get('narrow', 'http://app.example.test:4000/'), undefined, 'but not outside its default path')
  t.equal(jar.get('narrow', 'http://hub.example.test/x/z'), undefined, 'nor another host')
  t.equal(jar.all().find((c) => c.name === 'evil'), undefined, 'a Domain that does not match the host is refused')
  jar.setFromResponse('http://localhost:3000/', ['sec=1; Secure', 'none=1; SameSite=None'])
  t.equal(jar.get('sec', 'http://localhost:3001/'), '1', 'Secure cookies work on loopback http, as in Chromium')
  t.equal(jar.get('none', 'http://localhost:3001/'), undefined, 'SameSite=None without Secure is refused')
  jar.setFromResponse('http://app.example.test/', ['secure=1; Secure'])
  t.equal(jar.get('secure', 'http://app.example.test/'), undefined, 'Secure is refused over http elsewhere')
})

t.test('redirects: 303 after POST becomes GET; 307 and 308 keep POST and its body; 301/302 drop a POST body', async (t) => {
  const s = await site(t, {
    '/see-other': (_req, res) => redirect(res, 303, '/landing'),
    '/temporary': (_req, res) => redirect(res, 307, '/echo'),
    '/permanent': (_req, res) => redirect(res, 308, '/echo'),
    '/found': (_req, res) => redirect(res, 302, '/echo'),
    '/moved': (_req, res) => redirect(res, 301, '/echo'),
    '/landing': (req, res) => html(res, `landed by ${req.method}`),
    '/echo': (req, res, body) => html(res, `${req.method} ${body}`)
  })
  const client = new BrowserClient()

  const seeOther = await client.post(s.url('/see-other'), { a: '1' })
  t.equal(seeOther.body, 'landed by GET')
  t.same(seeOther.steps.map((step) => `${step.method} ${step.status}`), ['POST 303', 'GET 200'])
  t.equal(s.seen.at(-1)?.body, '', 'no body after the 303')
  t.equal(s.seen.at(-1)?.headers['content-type'], undefined, 'nor its content-type')

  for (const path of ['/temporary', '/permanent']) {
    const kept = await client.post(s.url(path), { a: '1', b: 'two words' })
    t.equal(kept.body, 'POST a=1&b=two+words', `${path}: the method and the body survive`)
    t.equal(s.seen.at(-1)?.headers['content-type'], 'application/x-www-form-urlencoded')
  }
  for (const path of ['/found', '/moved']) {
    const changed = await client.post(s.url(path), { a: '1' })
    t.equal(changed.body, 'GET ', `${path}: a POST becomes a GET without a body`)
  }
  const put = await client.navigate(s.url('/temporary'), { method: 'PUT', body: 'x' })
  t.equal(put.body, 'PUT x', '307 keeps any method')
})

t.test('a redirect loop ends with the steps listed', async (t) => {
  const s = await site(t, { '/loop': (_req, res) => redirect(res, 302, '/loop') })
  const client = new BrowserClient()
  await t.rejects(client.get(s.url('/loop'), { maxRedirects: 5 }), /more than 5 redirects/)
  await t.rejects(client.followLaunch(s.url('/loop')), /more than 20 redirects/)
})

const ENTITY_VALUE = 'a&amp;b &quot;q&quot; &#39;s&#39; &lt;tag&gt; &#x263A; &#9731; &apos;'
const DECODED = 'a&b "q" \'s\' <tag> \u263a \u2603 \''

t.test('followLaunch: redirects, a self-submitting form and the final page, each step recorded', async (t) => {
  const s = await site(t, {
    '/start': (_req, res) => redirect(res, 302, '/login?x=1', { 'set-cookie': 'state=s1; Path=/; HttpOnly' }),
    '/login': (_req, res) => html(res, `<!doctype html><html><body>
<!-- <form method="post" action="/decoy"><input name="no" value="no"></form> -->
<form id="autosubmit" method="post" action="/callback?from=login">
<input type="hidden" name="id_token" value="${ENTITY_VALUE}">
<input type="hidden" name="state" value='s1'>
<input type=hidden name=plain value=unquoted>
<input type="checkbox" name="unchecked" value="1">
<input type="checkbox" name="checked" checked>
<input type="hidden" name="off" value="1" disabled>
<textarea name="note">line &amp; one</textarea>
<select name="pick"><option value="a">A</option><option value="b" selected>B</option></select>
<button type="submit" name="button" value="pressed">Continue</button>
</form>
<script>document.getElementById('autosubmit').submit()</script>
</body></html>`),
    '/callback': (_req, res, body, url) => {
      const fields = new URLSearchParams(body)
      redirect(res, 303, `/done?ok=${fields.get('id_token') === DECODED && url.searchParams.get('from') === 'login' ? 1 : 0}`)
    },
    '/done': (_req, res) => html(res, '<h1>Inside</h1>')
  })
  const client = new BrowserClient()
  const seen: string[] = []
  const launch = await client.followLaunch(s.url('/start'), { onStep: (step) => seen.push(step.via) })
  t.equal(launch.page.url, s.url('/done?ok=1'), 'the decoded token reached the callback')
  t.equal(launch.page.body, '<h1>Inside</h1>')
  t.same(launch.steps.map((step) => `${step.via} ${step.method} ${step.status}`), [
    'navigate GET 302', 'redirect GET 200', 'auto-submit POST 303', 'redirect GET 200'
  ])
  t.same(seen, ['navigate', 'redirect', 'auto-submit', 'redirect'])
  t.ok(launch.steps.every((step) => step.ms >= 0 && typeof step.ms === 'number'))
  const post = s.seen.find((r) => r.method === 'POST')
  t.ok(post, 'the form was POSTed')
  const fields = new URLSearchParams(post?.body)
  t.same([...fields.keys()], ['id_token', 'state', 'plain', 'checked', 'note', 'pick'], 'successful controls only, in order; no submitter for form.submit()')
  t.equal(fields.get('id_token'), DECODED)
  t.equal(fields.get('checked'), 'on')
  t.equal(fields.get('note'), 'line & one')
  t.equal(fields.get('pick'), 'b')
  t.equal(post?.cookie, 'state=s1', 'the cookie set by the first redirect is sent with the POST')
  t.equal(post?.headers.origin, `http://127.0.0.1:${s.port}`)
  t.equal(post?.headers['sec-fetch-site'], 'same-origin')
  t.equal(post?.headers.referer, s.url('/login?x=1'))
})

t.test('followLaunch stops at a page whose form does not submit itself', async (t) => {
  const s = await site(t, {
    '/failed': (_req, res) => html(res, '<form method="post" action="/retry"><input type="hidden" name="token" value="t"><button type="submit">Try again</button></form>')
  })
  const client = new BrowserClient()
  const launch = await client.followLaunch(s.url('/failed'))
  t.equal(launch.steps.length, 1)
  t.equal(s.seen.filter((r) => r.path === '/retry').length, 0)
  const retried = await client.submitForm(launch.page, { submitter: 'Try again', fields: { extra: '1' } })
  t.equal(retried.status, 404)
  t.equal(s.seen.at(-1)?.body, 'token=t&extra=1', 'a nameless submitter adds nothing; fields are added')
})

t.test('submitForm: explicit form index, GET forms, html with a base URL', async (t) => {
  const s = await site(t, {
    '/search': (_req, res, _body, url) => html(res, `q=${url.searchParams.get('q')} n=${url.searchParams.get('n')}`)
  })
  const page = `<form action="/nothing"></form>
<form action="/search?ignored=1" method="get"><input name="q" value="a b"><input type="submit" name="n" value="go"></form>`
  const client = new BrowserClient()
  const result = await client.submitForm(page, { baseUrl: s.url('/here'), formIndex: 1, submitter: 'n' })
  t.equal(result.body, 'q=a b n=go', 'a GET form replaces the query and includes the pressed button')
  await t.rejects(client.submitForm(page, { baseUrl: s.url('/'), formIndex: 5 }), /no form 5/)
})

t.test('followLaunch with refresh: a progress page that refreshes until it redirects', async (t) => {
  let polls = 0
  const s = await site(t, {
    '/progress': (_req, res) => {
      polls++
      if (polls < 3) html(res, '<html><head><noscript><meta http-equiv="refresh" content="1"></noscript></head><body>starting</body></html>')
      else redirect(res, 302, '/ready')
    },
    '/ready': (_req, res) => html(res, 'ready')
  })
  const client = new BrowserClient()
  const without = await client.followLaunch(s.url('/progress'))
  t.equal(without.page.body.includes('starting'), true, 'refresh is not followed unless asked')
  const launch = await client.followLaunch(s.url('/progress'), { refresh: true, maxRefreshWaitMs: 50 })
  t.equal(launch.page.body, 'ready')
  t.same(launch.steps.map((step) => step.via), ['navigate', 'refresh', 'redirect'])
  await t.rejects(new BrowserClient().followLaunch(s.url('/progress'), { refresh: true, maxRefreshWaitMs: 0, maxSteps: 1, until: () => false }), /more than 1 steps/)
})

t.test('SameSite: ports are the same site; localhost and 127.0.0.1 are not', async (t) => {
  const tool = await site(t, {
    '/login': (_req, res) => redirect(res, 302, '/form', {
      'set-cookie': ['lax=1; SameSite=Lax', 'strict=1; SameSite=Strict', 'default=1', 'none=1; SameSite=None; Secure']
    }),
    '/form': (_req, res) => html(res, 'form'),
    '/callback': (_req, res) => html(res, 'callback')
  })
  const platform = await site(t, {
    '/page': (_req, res) => html(res, 'platform page')
  })
  const client = new BrowserClient()
  await client.get(tool.url('/login', 'localhost'))

  // A POST from another port of localhost: same site, every cookie goes.
  await client.post(tool.url('/callback', 'localhost'), { a: '1' }, { initiator: platform.url('/page', 'localhost') })
  t.same(tool.seen.at(-1)?.cookie.split('; ').sort(), ['default=1', 'lax=1', 'none=1', 'strict=1'])
  t.equal(tool.seen.at(-1)?.headers['sec-fetch-site'], 'same-site')

  // A POST from 127.0.0.1: cross-site. Lax and Strict stay home; a fresh
  // cookie without SameSite rides along (Chromium's two-minute exemption).
  await client.post(tool.url('/callback', 'localhost'), { a: '1' }, { initiator: platform.url('/page', '127.0.0.1') })
  t.same(tool.seen.at(-1)?.cookie.split('; ').sort(), ['default=1', 'none=1'])
  t.equal(tool.seen.at(-1)?.headers['sec-fetch-site'], 'cross-site')
  client.jar.now = () => Date.now() + 180_000
  await client.post(tool.url('/callback', 'localhost'), { a: '1' }, { initiator: platform.url('/page', '127.0.0.1') })
  t.same(tool.seen.at(-1)?.cookie, 'none=1', 'after two minutes only SameSite=None crosses sites on a POST')
  // A cross-site GET navigation carries Lax cookies but not Strict ones.
  await client.get(tool.url('/form', 'localhost'), { initiator: platform.url('/page', '127.0.0.1') })
  t.same(tool.seen.at(-1)?.cookie.split('; ').sort(), ['default=1', 'lax=1', 'none=1'])
})

t.test('html: entity decoding, attributes, auto-submit detection, meta refresh', async (t) => {
  t.equal(decodeEntities(ENTITY_VALUE), DECODED)
  t.equal(decodeEntities('&amp;&AMP;&unknown;&#0;&#x110000;'), '&&AMP;&unknown;\ufffd\ufffd', 'unknown names stay; invalid code points become U+FFFD')
  t.equal(decodeEntities('a&ampb &amp c'), 'a&b & c', 'legacy references without semicolons in text')
  t.equal(decodeEntities('?a=1&ltb=2&amp=3', true), '?a=1&ltb=2&amp=3', 'but not in attributes before = or letters')
  const forms = parseForms(`<FORM METHOD=POST ACTION="https://tool.test/cb?a=1&amp;b=2"><INPUT TYPE=HIDDEN NAME=x VALUE="1"></FORM>
<script>var s = '<form method="post" action="/in-script"></form>'</script>
<form><input name="a" value="first"><input name="a" value="second"></form>`, 'http://page.test/p')
  t.equal(forms.length, 2, 'forms inside scripts do not count')
  t.equal(forms[0]?.method, 'POST')
  t.equal(forms[0]?.action, 'https://tool.test/cb?a=1&b=2')
  t.same(forms[0]?.fields, { x: '1' })
  t.equal(forms[1]?.method, 'GET')
  t.equal(forms[1]?.action, 'http://page.test/p')
  t.same(forms[1]?.entries, [['a', 'first'], ['a', 'second']])

  const page = (body: string): string => `<html><body${body}</html>`
  t.equal(findAutoSubmitForm(page('><form method="post" action="/a"></form>'), 'http://x.test/'), undefined, 'a form alone does not submit itself')
  t.equal(findAutoSubmitForm(page(' onload="document.forms[0].submit()"><form method="post" action="/a"></form>'), 'http://x.test/')?.action, 'http://x.test/a')
  t.equal(findAutoSubmitForm(page('><form action="/a"></form><form data-auto-submit method="post" action="/b"></form>'), 'http://x.test/')?.action, 'http://x.test/b')
  t.equal(findAutoSubmitForm(page('><form action="/a"></form><form name="f" method="post" action="/c"></form><script>document.forms.f.submit()</script>'), 'http://x.test/')?.action, 'http://x.test/c')
  t.equal(findAutoSubmitForm(page('><form action="/a"></form><form id="go" action="/d"></form><script>document.querySelector("#go").requestSubmit()</script>'), 'http://x.test/')?.action, 'http://x.test/d')

  t.same(metaRefresh('<meta http-equiv="Refresh" content="0; URL=\'/next?a=1\'">', 'http://x.test/p'), { delaySeconds: 0, url: 'http://x.test/next?a=1' })
  t.same(metaRefresh('<noscript><meta http-equiv="refresh" content="3"></noscript>', 'http://x.test/p'), { delaySeconds: 3, url: 'http://x.test/p' })
  t.equal(metaRefresh('<!-- <meta http-equiv="refresh" content="0"> -->', 'http://x.test/p'), undefined)
})
