/**
 * The peers of the end-to-end tests that nobody here wrote, installed on
 * demand and cached:
 *
 * - a Python virtualenv at test/.peers/venv with the pinned JupyterHub,
 *   oauthenticator, jupyterhub-ltiauthenticator, jupyter_server,
 *   JupyterLab, and PyLTI1p3 with Flask (an LTI 1.3 tool peer against our
 *   platform's AGS and NRPS) (setup/requirements.txt, every transitive package pinned in
 *   setup/constraints.txt). A stamp file holds the hash of both files and of
 *   the Python version: a second run is instant, a changed pin reinstalls
 *   from scratch.
 * - configurable-http-proxy, from this package's node_modules.
 * - Debian's chromium at /usr/bin/chromium, installed with apt-get only
 *   when CI is set or LTILAUNCH_INSTALL_CHROMIUM=1.
 *
 * Nothing here skips: a peer that cannot be installed throws, with the
 * installer's output in the message and in test/output/logs.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

/** test/ — the workspace package of the end-to-end tests. */
export const testDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** Where installed peers live (gitignored). */
export const peersDir = path.join(testDir, '.peers')
/** Where runs write logs, screenshots and records (gitignored). */
export const outputDir = path.join(testDir, 'output')

const requirementsFile = path.join(testDir, 'setup', 'requirements.txt')
const constraintsFile = path.join(testDir, 'setup', 'constraints.txt')
const STAMP = '.ltilaunch-stamp'
const MIN_PYTHON: [number, number] = [3, 10]

/** The virtualenv's directory (LTILAUNCH_PEERS_VENV overrides it). */
export function venvDir (): string {
  return process.env.LTILAUNCH_PEERS_VENV ?? path.join(peersDir, 'venv')
}

/** An executable of the virtualenv, e.g. venvBin('jupyterhub'). */
export function venvBin (name: string): string {
  return path.join(venvDir(), 'bin', name)
}

/** The top-level pins, as { name: version }, read from setup/requirements.txt. */
export function pinnedPackages (): Record<string, string> {
  const pins: Record<string, string> = {}
  for (const line of readFileSync(requirementsFile, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z0-9._-]+)\s*==\s*([^\s#;]+)/.exec(line)
    if (match?.[1] && match[2]) pins[match[1]] = match[2]
  }
  return pins
}

function pythonCommand (): string {
  return process.env.LTILAUNCH_PYTHON ?? 'python3'
}

function pythonVersion (python: string): string {
  const result = spawnSync(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' })
  if (result.error || result.status !== 0) {
    throw new Error(`JupyterHub needs Python ${MIN_PYTHON.join('.')}+ with venv and pip: \`${python}\` did not run (${result.error?.message ?? result.stderr.trim()}). Install python3 and python3-venv, or set LTILAUNCH_PYTHON.`)
  }
  const version = result.stdout.trim()
  const [major = 0, minor = 0] = version.split('.').map(Number)
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new Error(`JupyterHub 6 needs Python ${MIN_PYTHON.join('.')}+; \`${python}\` is ${version}. Set LTILAUNCH_PYTHON to a newer one.`)
  }
  return version
}

/** What the stamp holds: the hash of the pins and of the interpreter. */
export function requirementsHash (python = pythonCommand()): string {
  const hash = createHash('sha256')
  hash.update(readFileSync(requirementsFile))
  hash.update('\0')
  hash.update(readFileSync(constraintsFile))
  hash.update('\0')
  hash.update(`${python} ${pythonVersion(python)}`)
  return hash.digest('hex')
}

function readStamp (): string | undefined {
  try {
    return readFileSync(path.join(venvDir(), STAMP), 'utf8').trim()
  } catch {
    return undefined
  }
}

/** True when the virtualenv is installed from the current pins. */
export function venvIsCurrent (): boolean {
  return readStamp() === requirementsHash() && existsSync(venvBin('jupyterhub'))
}

interface RunResult { code: number | null, output: string }

/** Runs a command to its end, its output kept (and appended to logFile). */
async function run (command: string, args: string[], options: { logFile: string, env?: NodeJS.ProcessEnv, timeoutMs: number, onLine?: (line: string) => void }): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    let partial = ''
    const take = (chunk: Buffer): void => {
      chunks.push(chunk)
      if (options.onLine === undefined) return
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) options.onLine(line)
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    const timer = setTimeout(() => {
      chunks.push(Buffer.from(`\n[peers] ${command} killed after ${options.timeoutMs} ms\n`))
      child.kill('SIGKILL')
    }, options.timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`cannot run ${command}: ${err.message}`))
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      const output = Buffer.concat(chunks).toString('utf8')
      writeFileSync(options.logFile, `$ ${command} ${args.join(' ')}\n${output}\n[exit ${code}]\n\n`, { flag: 'a' })
      resolve({ code, output })
    })
  })
}

function tail (text: string, lines: number): string {
  return text.split('\n').filter((line) => !/^WARNING: Location '.*' is ignored/.test(line)).slice(-lines).join('\n')
}

/**
 * One installer at a time across processes (a bench and a test run may
 * start together): a lock directory holding the owner's pid. A lock whose
 * owner is gone is taken over.
 */
async function withLock<T> (name: string, timeoutMs: number, fn: () => Promise<T>, dir = peersDir): Promise<T> {
  mkdirSync(dir, { recursive: true })
  const lock = path.join(dir, `${name}.lock`)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(path.join(lock, 'pid'), String(process.pid))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let owner = Number.NaN
      try {
        owner = Number(readFileSync(path.join(lock, 'pid'), 'utf8'))
      } catch {}
      const known = Number.isInteger(owner) && owner > 0
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0)
      // A dead owner's lock is taken over; one without a pid yet only once it is old.
      if ((known && !isAlive(owner)) || (!known && age > 30_000)) {
        rmSync(lock, { recursive: true, force: true })
        continue
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by process ${owner}; waited ${timeoutMs} ms`)
      await sleep(500)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface EnsureResult {
  venv: string
  /** True when this call installed; false when the stamp matched. */
  installed: boolean
  ms: number
  versions: Record<string, string>
}

function installedVersions (): Record<string, string> {
  const pins = pinnedPackages()
  const script = [
    'import json, sys',
    'from importlib.metadata import version',
    'print(json.dumps({n: version(n) for n in sys.argv[1:]}))'
  ].join('\n')
  const result = spawnSync(venvBin('python'), ['-c', script, ...Object.keys(pins)], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`cannot read the installed versions: ${result.stderr}`)
  return JSON.parse(result.stdout) as Record<string, string>
}

/**
 * Makes sure the virtualenv holds exactly the pinned peers. Instant when the
 * stamp matches; otherwise (re)creates it, which takes about a minute with
 * PyPI reachable. Throws with pip's output when anything fails.
 */
export async function ensureVenv (options: { log?: (line: string) => void, pipOutput?: (line: string) => void } = {}): Promise<EnsureResult> {
  const started = Date.now()
  const log = options.log ?? (() => {})
  const python = pythonCommand()
  const hash = requirementsHash(python)
  const venv = venvDir()
  if (readStamp() === hash && existsSync(venvBin('jupyterhub'))) {
    return { venv, installed: false, ms: Date.now() - started, versions: pinnedPackages() }
  }
  return await withLock('venv', 15 * 60_000, async () => {
    if (readStamp() === hash && existsSync(venvBin('jupyterhub'))) {
      return { venv, installed: false, ms: Date.now() - started, versions: pinnedPackages() }
    }
    const logDir = path.join(outputDir, 'logs')
    mkdirSync(logDir, { recursive: true })
    const logFile = path.join(logDir, 'install-peers.log')
    writeFileSync(logFile, `[peers] ${new Date().toISOString()} installing ${venv}\n`)
    const fail = (what: string, result: RunResult): Error =>
      new Error(`${what} failed (exit ${result.code}); full output in ${logFile}\n${tail(result.output, 60)}`)

    log(`creating ${venv} with ${python}`)
    rmSync(venv, { recursive: true, force: true })
    mkdirSync(path.dirname(venv), { recursive: true })
    const created = await run(python, ['-m', 'venv', venv], { logFile, timeoutMs: 120_000 })
    if (created.code !== 0) throw fail(`${python} -m venv`, created)

    log(`pip install -r ${path.relative(testDir, requirementsFile)} -c ${path.relative(testDir, constraintsFile)}`)
    const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', VIRTUAL_ENV: venv }
    const pip = await run(venvBin('python'), ['-m', 'pip', 'install', '--no-input', '-r', requirementsFile, '-c', constraintsFile],
      { logFile, env, timeoutMs: 20 * 60_000, ...(options.pipOutput ? { onLine: options.pipOutput } : {}) })
    if (pip.code !== 0) throw fail('pip install of the end-to-end peers', pip)

    const check = await run(venvBin('python'), ['-m', 'pip', 'check'], { logFile, env, timeoutMs: 120_000 })
    if (check.code !== 0) throw fail('pip check', check)

    const versions = installedVersions()
    for (const [name, pinned] of Object.entries(pinnedPackages())) {
      if (versions[name] !== pinned) throw new Error(`${name} is ${versions[name] ?? 'missing'} in ${venv}, pinned ${pinned}; see ${logFile}`)
    }
    for (const bin of ['jupyterhub', 'jupyterhub-singleuser']) {
      if (!existsSync(venvBin(bin))) throw new Error(`${venvBin(bin)} is missing after the install; see ${logFile}`)
    }
    writeFileSync(path.join(venv, STAMP), `${hash}\n`)
    log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(versions).map(([n, v]) => `${n} ${v}`).join(', ')}`)
    return { venv, installed: true, ms: Date.now() - started, versions }
  }, path.dirname(venv))
}

/** configurable-http-proxy from this package's node_modules (npm). */
export function configurableHttpProxyPath (): string {
  const bin = path.join(testDir, 'node_modules', '.bin', 'configurable-http-proxy')
  try {
    accessSync(bin, constants.X_OK)
  } catch {
    throw new Error(`configurable-http-proxy is not installed at ${bin}: run \`pnpm install\` at the repository root`)
  }
  return bin
}

/** The directory of configurable-http-proxy, to put first on a hub's PATH. */
export function nodeBinDir (): string {
  return path.dirname(configurableHttpProxyPath())
}

/** Where Debian's chromium is (LTILAUNCH_CHROMIUM overrides it). */
export function chromiumPath (): string {
  return process.env.LTILAUNCH_CHROMIUM ?? '/usr/bin/chromium'
}

function chromiumInstallAllowed (): boolean {
  const ci = process.env.CI
  return (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') || process.env.LTILAUNCH_INSTALL_CHROMIUM === '1'
}

function aptCandidate (logFile: string): string | undefined {
  const policy = spawnSync('apt-cache', ['policy', 'chromium'], { encoding: 'utf8' })
  writeFileSync(logFile, `$ apt-cache policy chromium\n${policy.stdout}${policy.stderr}\n`, { flag: 'a' })
  const candidate = /Candidate:\s*(\S+)/.exec(policy.stdout)?.[1]
  return candidate && candidate !== '(none)' ? candidate : undefined
}

/**
 * The path of a working chromium. When it is missing, installs Debian's
 * package if CI or LTILAUNCH_INSTALL_CHROMIUM=1 says so (apt-get update
 * first when the package lists do not know it); otherwise throws saying how.
 */
export async function ensureChromium (options: { log?: (line: string) => void } = {}): Promise<string> {
  const bin = chromiumPath()
  if (existsSync(bin)) return bin
  if (!chromiumInstallAllowed()) {
    throw new Error(`chromium is not installed at ${bin}. Install Debian's package (\`apt-get update && apt-get install -y chromium\`), run with LTILAUNCH_INSTALL_CHROMIUM=1 to let the setup do it, or point LTILAUNCH_CHROMIUM at a chromium binary.`)
  }
  return await withLock('chromium', 15 * 60_000, async () => {
    if (existsSync(bin)) return bin
    const log = options.log ?? (() => {})
    const logDir = path.join(outputDir, 'logs')
    mkdirSync(logDir, { recursive: true })
    const logFile = path.join(logDir, 'install-chromium.log')
    writeFileSync(logFile, `[peers] ${new Date().toISOString()} installing chromium\n`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const fail = (what: string, result: RunResult): Error =>
      new Error(`${what} failed (exit ${result.code}); full output in ${logFile}\n${tail(result.output, 40)}`)
    if (aptCandidate(logFile) === undefined) {
      log('apt-get update (the package lists do not know chromium yet)')
      const update = await run('apt-get', ['update'], { logFile, env, timeoutMs: 10 * 60_000 })
      if (update.code !== 0) throw fail('apt-get update', update)
      if (aptCandidate(logFile) === undefined) throw new Error(`Debian has no chromium package for this machine; see ${logFile}`)
    }
    log('apt-get install -y chromium')
    const install = await run('apt-get', ['install', '-y', 'chromium'], { logFile, env, timeoutMs: 20 * 60_000 })
    if (install.code !== 0) throw fail('apt-get install -y chromium', install)
    if (!existsSync(bin)) throw new Error(`apt-get installed chromium but ${bin} is missing; see ${logFile}`)
    return bin
  })
}

/** Everything the end-to-end tests need; what the CLI runs. */
export async function ensurePeers (options: { log?: (line: string) => void, chromium?: boolean } = {}): Promise<{ venv: EnsureResult, chp: string, chromium?: string }> {
  const venv = await ensureVenv(options)
  const chp = configurableHttpProxyPath()
  if (options.chromium === false) return { venv, chp }
  return { venv, chp, chromium: await ensureChromium(options) }
}

/**
 * Installs a package of this repository (e.g. clients/python) into the
 * virtualenv, as a user would (`pip install ./clients/python`), without its
 * dependencies (the pins hold those). pip builds it in isolation with the
 * build backend its pyproject.toml names (the virtualenv's own setuptools
 * may lack bdist_wheel). Run at each test start: the package follows the
 * checkout, not the stamp.
 */
export async function pipInstallLocal (dir: string): Promise<void> {
  const logDir = path.join(outputDir, 'logs')
  mkdirSync(logDir, { recursive: true })
  const logFile = path.join(logDir, `pip-install-${path.basename(dir)}.log`)
  writeFileSync(logFile, `[peers] ${new Date().toISOString()} pip install ${dir}\n`)
  const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', VIRTUAL_ENV: venvDir() }
  const args = ['-m', 'pip', 'install', '--no-input', '--no-deps', '--force-reinstall', dir]
  const result = await run(venvBin('python'), args, { logFile, env, timeoutMs: 5 * 60_000 })
  if (result.code !== 0) throw new Error(`pip install ${dir} failed (exit ${result.code}); full output in ${logFile}\n${tail(result.output, 30)}`)
}
