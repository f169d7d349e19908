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

// Where the peers must be there (CI installs them first), their absence fails the run.
if (!existsSync(python) && process.env.LTILAUNCH_REQUIRE_PEERS === '1') {
  throw new Error(`LTILAUNCH_REQUIRE_PEERS=1 but there is no peers' Python at ${python}: run the e2e peer setup first`)
}
const skip = existsSync(python) ? false : `no peers' Python at ${python}`

t.test('GenericOAuthenticator logs the launched user in, with groups, PKCE and refresh, with basic_auth at its default and on', { skip }, async (t) => {
  const platform = await startPlatform(t)
  const callback = 'http://127.0.0.1:8000/hub/oauth_callback'
  const app = await build(t, { env: { ...platform.env, HUB_REDIRECT_URI: callback }, listen: true })
  const modes = ['default', 'true'] as const
  const sessions: string[] = []
  for (let i = 0; i < modes.length; i++) {
    const { session } = await launch(app, platform, { lti: { roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'] } })
    sessions.push(session as string)
  }
  const tool = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const args = [script, tool, TEST_ENV.HUB_CLIENT_SECRET as string, callback, ...modes.map((mode, i) => `${mode}=${sessions[i] ?? ''}`)]
  const { stdout } = await promisify(execFile)(python, args, { timeout: 30000 })
  const results = JSON.parse(stdout)
  for (const mode of modes) {
    const hub = results[mode]
    t.match(hub, {
      // oauthenticator 17 defaults to client credentials in the form body.
      basic_auth: mode === 'true',
      enable_pkce: true,
      state_back: true,
      name: 'ada@example.org',
      groups: ['course:course-42', 'staff'],
      has_refresh_token: true,
      refreshed: true,
      refreshed_name: 'ada@example.org',
      refresh_rotated: true
    }, `basic_auth ${mode}`)
    t.match(hub.lti, { issuer: platform.issuer, role: 'staff', context: { id: 'course-42' }, custom: { image: 'scipy' } })
  }
})
