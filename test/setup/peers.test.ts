import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { configurableHttpProxyPath, ensureVenv, pinnedPackages, requirementsHash, venvBin, venvDir, venvIsCurrent } from './peers.js'

t.test('the pins are exact versions of the seven peers', async (t) => {
  const pins = pinnedPackages()
  t.same(Object.keys(pins).sort(), ['flask', 'jupyter_server', 'jupyterhub', 'jupyterhub-ltiauthenticator', 'jupyterlab', 'oauthenticator', 'pylti1p3'])
  t.ok(Object.values(pins).every((version) => /^\d+(\.\d+)+$/.test(version)))
  t.match(requirementsHash(), /^[0-9a-f]{64}$/)
})

t.test('the virtualenv is installed once, then found current at once', async (t) => {
  const first = await ensureVenv()
  t.comment(first.installed ? `installed in ${first.ms} ms` : 'already current')
  const again = await ensureVenv()
  t.equal(again.installed, false, 'a second call installs nothing')
  t.ok(again.ms < 2000, `and is quick (${again.ms} ms)`)
  t.ok(venvIsCurrent())
  t.equal(readFileSync(path.join(venvDir(), '.ltilaunch-stamp'), 'utf8').trim(), requirementsHash(), 'the stamp holds the hash of the pins')
  const versions = spawnSync(venvBin('python'), ['-m', 'pip', 'list', '--format=json'], { encoding: 'utf8' })
  const installed = Object.fromEntries((JSON.parse(versions.stdout) as Array<{ name: string, version: string }>)
    .map(({ name, version }) => [name.toLowerCase().replace(/_/g, '-'), version]))
  for (const [name, version] of Object.entries(pinnedPackages())) {
    t.equal(installed[name.toLowerCase().replace(/_/g, '-')], version, `${name} ${version}`)
  }
  t.ok(existsSync(venvBin('jupyterhub-singleuser')))
})

t.test('configurable-http-proxy comes from node_modules', async (t) => {
  const chp = configurableHttpProxyPath()
  // through env(1): tap puts its NODE_OPTIONS hooks into every child, and they break this ESM bin
  const version = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', chp, '--version'], { encoding: 'utf8' })
  t.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/)
})
