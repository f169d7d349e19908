import { LTI_CLAIM } from '@ltilaunch/claims'
import { decodeJwt } from 'jose'
import t from 'tap'
import { authorizeGet, authParams, Browser, build, formOf, launchCsrf, signIn, TOOL } from '../helper.js'

function attribute (body: string, name: string): string {
  const match = new RegExp(`${name}="([^"]*)"`).exec(body)
  if (match === null) throw new Error(`no ${name} in the page`)
  return (match[1] as string).replaceAll('&amp;', '&')
}

async function framedLaunch (env: Record<string, string> = {}, choice: Record<string, string> = { presentation: 'iframe' }) {
  const app = await build(t, { env })
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const res = await browser.post('/launch', { csrf: await launchCsrf(browser), client_id: TOOL.clientId, course: 'ds101', ...choice })
  return { app, browser, res }
}

t.test('a framed launch shows the tool in a frame of the course page, with storage for the tool\'s origin', async (t) => {
  const { browser, res } = await framedLaunch()
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/, 'the course page itself is not frameable')
  t.match(res.headers['content-security-policy'], /(^|; )frame-src 'self' https:\/\/tool\.example(;|$)/, 'it frames only the tool and its own sign-in pages')
  t.match(res.body, /Data Science 101: Test tool/)
  const login = new URL(attribute(res.body, 'src'))
  t.equal(`${login.origin}${login.pathname}`, TOOL.login)
  t.equal(login.searchParams.get('lti_storage_target'), '_parent', 'the login initiation names the storage frame')
  t.ok(login.searchParams.get('lti_message_hint'))
  t.equal(attribute(res.body, 'data-tool-origins'), 'https://tool.example', 'only the tool\'s origin is answered')
  t.equal(attribute(res.body, 'data-storage'), 'on')
  t.equal(attribute(res.body, 'data-ttl'), '600')
  t.match(res.body, /lti\.put_data/)
  t.notMatch(res.body, /\son[a-z]+=/, 'no inline event handlers (the CSP blocks them)')

  // The frame's authorization request works like a top-level one, and says where the tool is shown.
  const params = Object.fromEntries(login.searchParams)
  const auth = await authorizeGet(browser, authParams(params))
  t.equal(auth.statusCode, 200)
  const claims = decodeJwt(formOf(auth.body).fields.id_token as string)
  t.equal((claims[LTI_CLAIM.launchPresentation] as Record<string, unknown>).document_target, 'iframe')
})

t.test('with PLATFORM_STORAGE=false the frame gets no lti_storage_target and the page answers no storage', async (t) => {
  const { res } = await framedLaunch({ PLATFORM_STORAGE: 'false' })
  t.equal(res.statusCode, 200)
  const login = new URL(attribute(res.body, 'src'))
  t.equal(login.searchParams.get('lti_storage_target'), null)
  t.equal(attribute(res.body, 'data-storage'), 'off')
})

t.test('a POST login initiation is submitted into the frame; "window" and the default stay top-level', async (t) => {
  const post = await framedLaunch({}, { presentation: 'iframe', client_id: 'post-tool' })
  t.equal(post.res.statusCode, 200)
  const form = formOf(post.res.body)
  t.equal(form.action, 'https://post.example/login')
  t.equal(form.fields.lti_storage_target, '_parent')
  t.match(post.res.body, /target="lti-tool"/)
  t.equal(attribute(post.res.body, 'data-tool-origins'), 'https://post.example')

  const window = await framedLaunch({}, { presentation: 'window' })
  t.equal(window.res.statusCode, 303)
  t.equal(new URL(window.res.headers.location as string).searchParams.get('lti_storage_target'), null)
  const registered = await framedLaunch({}, {})
  t.equal(registered.res.statusCode, 303, 'the registration says window')
})

t.test('in a frame, an authorization request that came without our session cookie is re-submitted from our own origin once', async (t) => {
  const { app, browser, res } = await framedLaunch()
  const params = authParams(Object.fromEntries(new URL(attribute(res.body, 'src')).searchParams))
  // What the browser sends when the tool's page (another site) navigates the frame here: no Lax cookie.
  const first = await app.inject({ method: 'GET', url: `/lti/authorize?${new URLSearchParams(params).toString()}`, headers: { 'sec-fetch-dest': 'iframe', accept: 'text/html' } })
  t.equal(first.statusCode, 200)
  const repost = formOf(first.body)
  t.equal(repost.action, '/lti/authorize')
  t.equal(repost.fields.ltilaunch_repost, '1')
  t.equal(repost.fields.lti_message_hint, params.lti_message_hint, 'the hint is not spent by the re-submission')
  t.notOk(repost.fields.id_token)
  // Our own form, submitted in the frame, comes with the cookie and gets the token.
  const second = await browser.post('/lti/authorize', repost.fields)
  t.ok(formOf(second.body).fields.id_token)
  // Without a cookie the second time, it is an OIDC error, not a loop.
  const again = await app.inject({ method: 'POST', url: '/lti/authorize', payload: new URLSearchParams(repost.fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-dest': 'iframe' } })
  t.equal(formOf(again.body).fields.error, 'login_required')
})
