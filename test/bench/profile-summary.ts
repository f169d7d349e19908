import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * Reads the .cpuprofile files that `node --cpu-prof` wrote and lists the
 * functions with the most self time, so a run can say where the CPU went
 * without opening DevTools. Usable alone: `tsx bench/profile-summary.ts DIR`.
 */

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples?: number[]
  timeDeltas?: number[]
}

function shortUrl (url: string): string {
  const clean = url.replace(/^file:\/\//, '')
  const nm = clean.lastIndexOf('node_modules/')
  if (nm >= 0) return clean.slice(nm + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '')
  const services = clean.indexOf('/services/')
  if (services >= 0) return clean.slice(services + 1)
  const packages = clean.indexOf('/packages/')
  if (packages >= 0) return clean.slice(packages + 1)
  return clean
}

/** Where a function lives: an npm package, one of our packages or services, a Node internal, or native. */
function moduleOf (url: string, functionName: string): string {
  if (!url) return `native ${functionName || '(anonymous)'}`
  const clean = url.replace(/^file:\/\//, '')
  const nm = clean.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = clean.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : rest[0] ?? clean
  }
  const ours = /\/(services|packages)\/([^/]+)\//.exec(clean)
  if (ours) return `${ours[1]}/${ours[2]}`
  if (clean.startsWith('node:')) return clean.split('/').slice(0, 2).join('/')
  return clean
}

/** Self time by module, in percent of all non-idle samples. */
export function profileByModule (file: string, top: number): Array<{ fn: string, selfPct: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const self = selfTimes(profile)
  const byModule = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    if (node.callFrame.functionName === '(idle)') continue
    const time = self.get(node.id) ?? 0
    total += time
    const key = moduleOf(node.callFrame.url, node.callFrame.functionName)
    byModule.set(key, (byModule.get(key) ?? 0) + time)
  }
  return [...byModule.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([fn, time]) => ({ fn, selfPct: total ? (100 * time) / total : 0 }))
}

function selfTimes (profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>()
  if (profile.samples && profile.timeDeltas) {
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)))
  } else {
    for (const node of profile.nodes) self.set(node.id, node.hitCount ?? 0)
  }
  return self
}

export function summarizeProfile (file: string, top: number): Array<{ fn: string, selfPct: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const self = selfTimes(profile)
  const byFunction = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    if (node.callFrame.functionName === '(idle)') continue
    const time = self.get(node.id) ?? 0
    total += time
    const name = node.callFrame.functionName || '(anonymous)'
    const where = node.callFrame.url ? ` ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : ''
    const key = `${name}${where}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + time)
  }
  return [...byFunction.entries()]
    .filter(([fn]) => !fn.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, time]) => ({ fn, selfPct: total ? (100 * time) / total : 0 }))
}

export function summarizeProfiles (dir: string, top: number): Record<string, Array<{ fn: string, selfPct: number }>> {
  const out: Record<string, Array<{ fn: string, selfPct: number }>> = {}
  const files = profileFiles(dir)
  for (const name of files) {
    try {
      out[`${name} (by module)`] = profileByModule(path.join(dir, name), top)
      out[`${name} (by function)`] = summarizeProfile(path.join(dir, name), top)
    } catch (err) {
      out[name] = [{ fn: `unreadable: ${(err as Error).message}`, selfPct: 0 }]
    }
  }
  return out
}

function profileFiles (dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).sort()
  } catch {
    return []
  }
}

if (process.argv[1] && import.meta.filename === path.resolve(process.argv[1])) {
  const dir = process.argv[2]
  if (!dir) {
    process.stderr.write('usage: tsx bench/profile-summary.ts <dir with .cpuprofile files> [top]\n')
    process.exit(2)
  }
  for (const [file, entries] of Object.entries(summarizeProfiles(dir, Number(process.argv[3] ?? 20)))) {
    process.stdout.write(`${file}\n`)
    for (const entry of entries) process.stdout.write(`  ${entry.selfPct.toFixed(1).padStart(5)}%  ${entry.fn}\n`)
  }
}
