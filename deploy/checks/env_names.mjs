// Every setting that compose.yaml, the rendered chart and the boot check give
// a service (and every one the operator's guide names) must be a name that service reads (its config schema in
// services/<svc>/dist/config.js), or NAME_FILE of one. A misspelt or renamed
// setting is otherwise ignored in silence.
//
// usage: node env_names.mjs rendered.yaml ...   (after pnpm build)
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { bootEnv } from './boot-env.mjs'

const root = resolve(import.meta.dirname, '../..')
const require = createRequire(join(root, 'services/platform/package.json'))
const YAML = require('yaml')
const SERVICES = ['platform', 'tool-auth', 'spawner-broker']
// Read by Node or the image itself, not by the config schema.
const PROCESS_ENV = new Set(['NODE_ENV', 'NODE_OPTIONS', 'LTILAUNCH_SERVICE', 'PATH'])

const known = {}
for (const service of SERVICES) {
  const module = await import(pathToFileURL(join(root, 'services', service, 'dist/config.js')).href)
  const schema = Object.values(module).find((value) => value && typeof value === 'object' && value.type === 'object' && value.properties)
  if (!schema) throw new Error(`services/${service}/dist/config.js exports no config schema`)
  known[service] = new Set(Object.keys(schema.properties))
}

const problems = []
function check (where, service, names) {
  for (const name of names) {
    if (PROCESS_ENV.has(name)) continue
    const base = name.endsWith('_FILE') ? name.slice(0, -5) : name
    if (!known[service].has(name) && !known[service].has(base)) {
      problems.push(`${where}: ${service} does not read ${name}`)
    }
  }
}

const compose = YAML.parse(readFileSync(join(root, 'deploy/compose.yaml'), 'utf8'), { merge: true })
for (const service of SERVICES) {
  check('deploy/compose.yaml', service, Object.keys(compose.services[service]?.environment ?? {}))
}

for (const file of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(readFileSync(file, 'utf8'))) {
    const manifest = doc.toJS()
    if (manifest?.kind !== 'Deployment') continue
    const service = manifest.spec.template.metadata.labels['app.kubernetes.io/component']
    for (const container of manifest.spec.template.spec.containers) {
      check(`${file} (Deployment ${manifest.metadata.name})`, service, (container.env ?? []).map((e) => e.name))
    }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ltilaunch-env-'))
try {
  const ports = { platform: 1, 'tool-auth': 2, 'spawner-broker': 3 }
  for (const service of SERVICES) check('deploy/checks/boot-env.mjs', service, Object.keys(bootEnv(service, { dir, ports })))
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// Every upper-case setting the operator's guide names in backticks must be
// one some service reads (error codes, which errors.ts defines, aside).
const guide = readFileSync(join(root, 'docs/operator-guide.md'), 'utf8')
const codes = new Set()
for (const service of SERVICES) {
  const errors = readFileSync(join(root, 'services', service, 'src/errors.ts'), 'utf8')
  for (const m of errors.matchAll(/createError(?:<[^>]*>)?\(\s*'([A-Z][A-Z0-9_]+)'/g)) codes.add(m[1])
}
const NOT_SETTINGS = new Set(['GETDEL', 'HEALTHCHECK', 'NAME', 'NAME_FILE'])
const readByAny = (name) => SERVICES.some((s) => known[s].has(name) || known[s].has(name.replace(/_FILE$/, '')))
for (const m of guide.matchAll(/`([A-Z][A-Z0-9_]{2,})(?:\(_FILE\))?`/g)) {
  const name = m[1]
  if (codes.has(name) || PROCESS_ENV.has(name) || name.endsWith('_') || NOT_SETTINGS.has(name) || /_(INVALID_REQUEST|NOT_FOUND|RATE_LIMITED|STORE_UNAVAILABLE)$/.test(name)) continue
  if (!readByAny(name)) problems.push(`docs/operator-guide.md: no service reads ${name}`)
}

if (problems.length > 0) {
  console.log(problems.join('\n'))
  process.exit(1)
}
console.log(`env names: ${SERVICES.map((s) => `${s} ${known[s].size} settings`).join(', ')}; compose, chart and boot env all known`)
