import t from 'tap'
import { isOAuthError, probeProtocolErrors, probeUnusableBodies } from '@ltilaunch/service-kit/testing'
import { build } from '../helper.js'

t.test('every route refuses every unusable body with a 4xx in the kit shape, never a 5xx', async (t) => {
  const app = await build(t)
  const { sent, problems } = await probeUnusableBodies(app, {
    prefix: 'TOOL_AUTH',
    // RFC 6749 clients read {error, error_description} from the OAuth endpoints.
    alsoAccept: (url, body) => url.startsWith('/oauth2/') && isOAuthError(body)
  })
  t.ok(sent >= 5 * 13, `${sent} requests sent`)
  t.same(problems, [])
})

t.test('404, 405, 414 and 431 are in the kit shape, with the security headers', async (t) => {
  const app = await build(t)
  const { checked, problems } = await probeProtocolErrors(app, { prefix: 'TOOL_AUTH' })
  t.ok(checked.length >= 3, `checked ${checked.join(', ')}`)
  t.same(problems, [])
})

t.test('tool-auth\'s pages may be framed by an LMS, unless FRAME_ANCESTORS restricts it', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/lti13/launch', headers: { accept: 'text/html' } })
  t.match(res.headers['content-type'], 'text/html')
  t.match(String(res.headers['content-security-policy']), /default-src 'none'/)
  t.notMatch(String(res.headers['content-security-policy']), 'frame-ancestors')
  t.notOk(res.headers['x-frame-options'])

  const restricted = await build(t, { env: { FRAME_ANCESTORS: 'https://canvas.example.edu' } })
  const page = await restricted.inject({ url: '/lti13/launch', headers: { accept: 'text/html' } })
  t.match(String(page.headers['content-security-policy']), 'frame-ancestors https://canvas.example.edu')
})
