/**
 * Runs before every test file of the package (tap's `before`): the peers
 * must be there. A missing or broken peer (the pinned virtualenv, chromium,
 * configurable-http-proxy) or a service that was not built ends the whole
 * run here with the reason, rather than letting scenarios skip.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { ensurePeers } from '../setup/peers.js'
import { servicesDir } from './stack.js'

const started = Date.now()
const peers = await ensurePeers({ log: (line) => { console.log(`# [peers] ${line}`) } })
const missing = ['platform', 'tool-auth', 'spawner-broker']
  .map((service) => path.join(servicesDir, service, 'dist', 'server.js'))
  .filter((file) => !existsSync(file))
if (missing.length > 0) {
  throw new Error(`the services are not built (${missing.join(', ')}): run \`pnpm build\` at the repository root`)
}
console.log(`# peers ready in ${Date.now() - started} ms: ${Object.entries(peers.venv.versions).map(([n, v]) => `${n} ${v}`).join(', ')}; chromium ${peers.chromium ?? 'not checked'}`)
