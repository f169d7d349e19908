import t from 'tap'
import { isOAuthError, probeProtocolErrors, probeUnusableBodies } from '@ltilaunch/service-kit/testing'
import { build } from '../helper.js'

t.test('every route refuses every unusable body with a 4xx in the kit shape, never a 5xx', async (t) => {
  const app = await build(t)
  const { sent, problems } = await probeUnusableBodies(app, {
    prefix: 'PLATFORM',
    // RFC 6749 clients read {error, error_description} from the token endpoint.
    alsoAccept: (url, body) => url === '/lti/token' && isOAuthError(body)
  })
  t.ok(sent >= 5 * 13, `${sent} requests sent`)
  t.same(problems, [])
})

t.test('404, 405, 414 and 431 are in the kit shape, with the security headers', async (t) => {
  const app = await build(t)
  const { checked, problems } = await probeProtocolErrors(app, { prefix: 'PLATFORM' })
  t.ok(checked.length >= 3, `checked ${checked.join(', ')}`)
  t.same(problems, [])
})

t.test('the platform\'s pages may be framed by itself only, unless FRAME_ANCESTORS names a host site; sign-in by nobody', async (t) => {
  const app = await build(t)
  const page = await app.inject({ url: '/lti/authorize', headers: { accept: 'text/html' } })
  t.match(page.headers['content-type'], 'text/html')
  t.match(String(page.headers['content-security-policy']), /(^|; )frame-ancestors 'self'(;|$)/)
  t.equal(page.headers['x-frame-options'], 'SAMEORIGIN')
  t.match(String(page.headers['content-security-policy']), /default-src 'none'/)

  // The sign-in form keeps its own framing (clickjacking), inside the kit's CSP.
  const login = await app.inject('/login')
  t.equal(login.statusCode, 200)
  t.match(String(login.headers['content-security-policy']), /default-src 'none'.*; frame-ancestors 'none'$/)
  t.equal(login.headers['x-frame-options'], 'DENY')

  const hosted = await build(t, { env: { FRAME_ANCESTORS: 'self https://learn.example.edu' } })
  const framed = await hosted.inject({ url: '/lti/authorize', headers: { accept: 'text/html' } })
  t.match(String(framed.headers['content-security-policy']), "frame-ancestors 'self' https://learn.example.edu")
  t.notOk(framed.headers['x-frame-options'])
})
