import { CUSTOM_MAX_BYTES, CUSTOM_VALUE_MAX_LENGTH, ID_TOKEN_FORM_POST_LIMIT, ID_TOKEN_MAX_LENGTH, jsonBytes } from '@ltilaunch/claims'
import t from 'tap'
import { build } from '../../helper.js'
import { login, postCallback } from '../../support/launch.js'
import { startPlatform } from '../../support/platform.js'

/*
 * The callback's body limit is the one platforms plan for
 * (@ltilaunch/claims limits.ts): a token as large as a platform may sign is
 * accepted, a body over the limit is a 413 with a code.
 */

/** A custom claim of exactly CUSTOM_MAX_BYTES as JSON. */
function largestCustom (): Record<string, string> {
  const custom: Record<string, string> = { image: 'scipy', course_name: 'ds101' }
  for (let i = 0; jsonBytes(custom) < CUSTOM_MAX_BYTES; i++) {
    const key = `p${i}`
    custom[key] = ''
    custom[key] = 'x'.repeat(Math.min(CUSTOM_VALUE_MAX_LENGTH, CUSTOM_MAX_BYTES - jsonBytes(custom)))
  }
  return custom
}

t.test('an id_token as long as a platform may sign (ID_TOKEN_MAX_LENGTH), with the largest custom claim, is accepted', async (t) => {
  const platform = await startPlatform(t)
  const app = await build(t, { env: platform.env, store: 'memory' })
  const started = await login(app, platform)
  const custom = largestCustom()
  t.equal(jsonBytes(custom), CUSTOM_MAX_BYTES)
  const claims = platform.claims(started.nonce, {}, { custom })
  // The other claims a large launch carries, as one vendor claim grown until the token is as long as allowed.
  const padding = 'https://example.org/claim/padding'
  let token = ''
  let fill = 0
  for (let round = 0; round < 6; round++) {
    token = await platform.sign({ ...claims, [padding]: 'y'.repeat(fill) })
    const room = ID_TOKEN_MAX_LENGTH - token.length
    if (room >= 0 && room < 8) break
    fill += Math.floor(room * 3 / 4)
  }
  t.ok(token.length <= ID_TOKEN_MAX_LENGTH && token.length > ID_TOKEN_MAX_LENGTH - 8, `the token is ${token.length} characters`)
  const res = await postCallback(app, { id_token: token, state: started.state, cookie: started.cookie })
  t.equal(res.statusCode, 303, res.body.slice(0, 300))
})

t.test('a callback body over ID_TOKEN_FORM_POST_LIMIT is refused with 413 and a code; one at the limit is read', async (t) => {
  const app = await build(t, { store: 'memory' })
  const overhead = 'id_token=&state=s'.length
  const atLimit = await postCallback(app, { id_token: 'a'.repeat(ID_TOKEN_FORM_POST_LIMIT - overhead), state: 's' })
  t.equal(atLimit.statusCode, 400, 'read, then refused for what it says')
  t.equal(atLimit.json().code, 'TOOL_AUTH_STATE_UNKNOWN')
  const over = await postCallback(app, { id_token: 'a'.repeat(ID_TOKEN_FORM_POST_LIMIT - overhead + 1), state: 's' })
  t.equal(over.statusCode, 413)
  t.equal(over.json().code, 'TOOL_AUTH_BODY_TOO_LARGE')
})
