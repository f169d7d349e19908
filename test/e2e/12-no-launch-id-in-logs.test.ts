/**
 * Scenario 6: a launch id is a capability (it opens the launch's progress
 * page), so it must appear in no log line of any service. A real launch runs
 * through the whole stack and an unmodified hub with every service logging
 * at debug; the broker's API and page are asked about the launch again, and
 * a wrong path under it; then the three services' logs are read in full.
 */
import { readFileSync } from 'node:fs'
import { capabilityFingerprint } from '@ltilaunch/service-kit'
import t from 'tap'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { cryptKey, genericOAuthHubConfig, IMAGES, planStack, startStack } from './stack.js'

const plan = await planStack('s12')
const hub = await startJupyterHub(t, {
  name: 's12-hub',
  port: plan.hubPort,
  config: genericOAuthHubConfig(plan),
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
const debug = { LOG_LEVEL: 'debug' }
const stack = await startStack(t, plan, { hub, env: { platform: debug, toolAuth: debug, broker: debug } })

t.test('no log line of any service holds the launch id', async (t) => {
  const launch = await launchThroughStack(stack, 'ada', { course: 'ds101', image: IMAGES.minimal })
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  const id = launch.launchId ?? ''
  t.ok(id.length >= 16, 'the browser passed the broker\'s progress page')
  t.equal((await stack.brokerLaunch(id)).status, 'ready')
  // A ready launch's page sends the browser on to the hub.
  t.equal((await fetch(`${plan.brokerUrl}/launches/${id}`, { headers: { accept: 'text/html' }, redirect: 'manual' })).status, 303)
  t.equal((await fetch(`${plan.brokerUrl}/launches/${id}/nowhere`)).status, 404)

  await stack.stop()
  const logs = [stack.platform, stack.toolAuth, stack.broker].map((proc) => ({ file: proc?.logFile ?? '', text: readFileSync(proc?.logFile ?? '', 'utf8') }))
  for (const { file, text } of logs) {
    t.ok(text.split('\n').length > 5, `${file} has lines`)
    t.notOk(text.includes(id), `the launch id is not in ${file}`)
  }
  const [, toolAuthLog, brokerLog] = logs
  t.ok(toolAuthLog?.text.includes(capabilityFingerprint(id)), 'tool-auth logs the launch by its fingerprint')
  t.ok(brokerLog?.text.includes(capabilityFingerprint(id)), 'the broker logs the launch by the same fingerprint')
})
