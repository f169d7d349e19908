import t from 'tap'
import { isOAuthError, probeUnusableBodies } from '@ltilaunch/service-kit/testing'
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
