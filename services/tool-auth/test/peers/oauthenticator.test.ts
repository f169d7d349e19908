import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { build, TEST_ENV } from '../helper.js'
import { launch } from '../support/launch.js'
import { startPlatform } from '../support/platform.js'

/*
 * The real thing: oauthenticator's GenericOAuthenticator (from the
 * end-to-end peers' virtualenv, test/.peers/venv, or LTILAUNCH_PEERS_PYTHON)
 * logs a launched user in through tool-auth, unmodified. Skipped when that
 * Python is not installed (run the e2e setup to install it).
 */

const python = process.env.LTILAUNCH_PEERS_PYTHON ?? fileURLToPath(new URL('../../../../test/.peers/venv/bin/python', import.meta.url))
const script = fileURLToPath(new URL('./generic_oauthenticator.py', import.meta.url))

const skip = existsSync(python) ? false : `no peers' Python at ${python}`

for (const basic of ['default', 'true'] as const) {
  t.test(`GenericOAuthenticator (basic_auth ${basic}) logs the launched user in, with groups, PKCE and refresh`, { skip }, async (t) => {
    const platform = await startPlatform(t)
    const callback = 'http://127.0.0.1:8000/hub/oauth_callback'
    const app = await build(t, { env: { ...platform.env, HUB_REDIRECT_URI: callback }, listen: true })
    const { session } = await launch(app, platform, { lti: { roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'] } })
    const tool = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    const { stdout } = await promisify(execFile)(python, [script, tool, session as string, TEST_ENV.HUB_CLIENT_SECRET as string, callback, basic], { timeout: 30000 })
    const hub = JSON.parse(stdout)
    t.match(hub, {
    // oauthenticator 17 defaults to client credentials in the form body.
      basic_auth: basic === 'true',
      enable_pkce: true,
      state_back: true,
      name: 'ada@example.org',
      groups: ['course:course-42', 'staff'],
      has_refresh_token: true,
      refreshed: true,
      refreshed_name: 'ada@example.org',
      refresh_rotated: true
    })
    t.match(hub.lti, { issuer: platform.issuer, role: 'staff', context: { id: 'course-42' }, custom: { image: 'scipy' } })
  })
}
