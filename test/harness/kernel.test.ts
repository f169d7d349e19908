/**
 * runInServer: code runs in a kernel of the user's own running server, with
 * the server's environment: its JUPYTERHUB_API_TOKEN is the user's, as the
 * hub's /hub/api/user says when the cell asks it; a failing cell reports
 * its exception; a server nobody runs is an HTTP error, not a hang.
 */
import t from 'tap'
import { startJupyterHub } from './jupyterhub.js'
import { runInServer } from './kernel.js'

const CONFIG = `
c.JupyterHub.authenticator_class = 'dummy'
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = 'recording_spawner.RecordingSpawner'
c.RecordingSpawner.allowed_images = '*'
`

const hub = await startJupyterHub(t, { name: 'kernel-hub', config: CONFIG })
await hub.api.createUser('kernel-learner')
await hub.api.startServer('kernel-learner', 'course-1', {})
await hub.api.waitForServer('kernel-learner', 'course-1')
const serverUrl = `${hub.url}/user/kernel-learner/course-1/`

t.test('a cell runs in the user\'s server with the server\'s hub token', async (t) => {
  const result = await runInServer({
    serverUrl,
    token: hub.apiToken,
    code: `
import json, os, urllib.request
request = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/user',
    headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})
with urllib.request.urlopen(request) as reply:
    me = json.load(reply)
print(json.dumps({'user': os.environ['JUPYTERHUB_USER'], 'server': os.environ.get('JUPYTERHUB_SERVER_NAME'), 'hub_says': me['name']}))
`
  })
  t.equal(result.status, 'ok', JSON.stringify(result.error))
  t.same(JSON.parse(result.stdout), { user: 'kernel-learner', server: 'course-1', hub_says: 'kernel-learner' })
})

t.test('a failing cell reports its exception', async (t) => {
  const result = await runInServer({ serverUrl, token: hub.apiToken, code: 'raise ValueError("no score")' })
  t.equal(result.status, 'error')
  t.match(result.error, { ename: 'ValueError', evalue: 'no score' })
})

t.test('a server that is not running is an HTTP error', async (t) => {
  const result = await runInServer({ serverUrl: `${hub.url}/user/kernel-learner/nothing/`, token: hub.apiToken, code: 'print(1)', timeoutMs: 10_000 })
  t.equal(result.status, 'http-error')
})
