/**
 * Installs (or checks) the peers of the end-to-end tests:
 *
 *   pnpm --filter @ltilaunch/e2e exec tsx setup/install-peers.ts [--no-chromium]
 *
 * A second run is instant. Chromium is installed only with CI set or
 * LTILAUNCH_INSTALL_CHROMIUM=1; otherwise a missing chromium is an error
 * that says how to install it (--no-chromium leaves it out).
 */
import { ensurePeers } from './peers.js'

const started = Date.now()
const log = (line: string): void => { process.stdout.write(`[install-peers] ${line}\n`) }

try {
  const peers = await ensurePeers({ log, chromium: !process.argv.includes('--no-chromium') })
  const versions = Object.entries(peers.venv.versions).map(([name, version]) => `${name}==${version}`).join(' ')
  log(`virtualenv ${peers.venv.venv} ${peers.venv.installed ? `installed in ${(peers.venv.ms / 1000).toFixed(1)} s` : 'up to date'}: ${versions}`)
  log(`configurable-http-proxy ${peers.chp}`)
  if (peers.chromium) log(`chromium ${peers.chromium}`)
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
} catch (err) {
  process.stderr.write(`[install-peers] ${(err as Error).message}\n`)
  process.exitCode = 1
}
