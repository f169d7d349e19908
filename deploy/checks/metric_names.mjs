// The metric names that the dashboard, the alert rules and the operator's
// guide use are ones the services export, and the guide names every series
// of ours. Each service's app is built from dist/ (with the boot check's
// settings, no Redis, no listener) and its /metrics read through inject();
// prom-client lists every registered metric (# TYPE), samples or not.
//
// usage: node deploy/checks/metric_names.mjs   (the workspace must be built)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { bootEnv } from './boot-env.mjs'

const root = resolve(import.meta.dirname, '../..')
const SERVICES = ['platform', 'tool-auth', 'spawner-broker']
const TOKEN = 'metric-names-check-token-0123'
const SOURCES = {
  dashboard: 'deploy/helm/ltilaunch/files/grafana-dashboard.json',
  rules: 'deploy/helm/ltilaunch/files/prometheus-rules.yaml',
  guide: 'docs/operator-guide.md'
}
// Names in queries: ours and prom-client's process defaults.
const NAME = /\b(?:ltilaunch|nodejs|process)_[a-z0-9_]*[a-z0-9]\b/g

const kit = await import(pathToFileURL(join(root, 'packages/service-kit/dist/index.js')).href)
const exported = new Map()
const dir = mkdtempSync(join(tmpdir(), 'metric-names-'))
try {
  const ports = { platform: 3000, 'tool-auth': 3001, 'spawner-broker': 3002 }
  for (const service of SERVICES) {
    const { readConfig } = await import(pathToFileURL(join(root, 'services', service, 'dist/config.js')).href)
    const { default: app } = await import(pathToFileURL(join(root, 'services', service, 'dist/app.js')).href)
    const config = readConfig({ PORT: '0', LOG_LEVEL: 'silent', METRICS_TOKEN: TOKEN, ...bootEnv(service, { dir, ports }) })
    const server = kit.createServer({ service, config, logger: false })
    await server.register(async (instance) => await app(instance, { config }), {})
    await server.ready()
    const reply = await server.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
    await server.close()
    if (reply.statusCode !== 200) throw new Error(`${service}: /metrics answered ${reply.statusCode}`)
    for (const [, name, type] of reply.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const names = type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : type === 'summary' ? [name, `${name}_sum`, `${name}_count`] : [name]
      for (const each of names) exported.set(each, [...(exported.get(each) ?? []), service])
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// The guide's metrics section, up to the next section; elsewhere ltilaunch_ names cookies and keys.
function metricsSection (text) {
  const start = text.search(/^#{2,3} [\d.]* ?Metrics$/m)
  if (start < 0) return ''
  const rest = text.slice(start)
  const end = rest.indexOf('\n## ')
  return end < 0 ? rest : rest.slice(0, end)
}

const problems = []
for (const [what, file] of Object.entries(SOURCES)) {
  const text = readFileSync(join(root, file), 'utf8')
  const used = new Set((what === 'guide' ? metricsSection(text) : text).match(NAME) ?? [])
  if (used.size === 0) problems.push(`${file} names no metric at all`)
  for (const name of used) if (!exported.has(name)) problems.push(`${file} (${what}) uses ${name}, which no service exports`)
}
// The guide's series table: every series of ours is explained.
const guide = metricsSection(readFileSync(join(root, SOURCES.guide), 'utf8'))
for (const name of exported.keys()) {
  if (!name.startsWith('ltilaunch_') || /_(bucket|sum|count)$/.test(name)) continue
  if (!guide.includes(`\`${name}\``)) problems.push(`docs/operator-guide.md does not explain ${name} (exported by ${exported.get(name).join(', ')})`)
}
if (problems.length > 0) {
  console.log(problems.join('\n'))
  process.exit(1)
}
console.log(`${exported.size} exported names; the dashboard, the rules and the guide use only those, and the guide explains every ltilaunch_ series`)
