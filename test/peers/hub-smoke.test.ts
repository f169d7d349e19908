/**
 * The hub peer on its own: the pinned JupyterHub starts with the recording
 * spawner, the broker's service token can create a user and a group and
 * start a named server with user_options {image}, the server really serves
 * JupyterLab through the proxy, the image is checked and recorded the way
 * DockerSpawner would use it, and a disallowed image is refused.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { HubError, startJupyterHub } from '../harness/jupyterhub.js'
import { pinnedPackages } from '../setup/peers.js'

const IMAGES = {
  python: 'quay.io/jupyter/minimal-notebook:2025-06-02',
  r: 'quay.io/jupyter/r-notebook:2025-06-02'
}

const CONFIG = `
c.JupyterHub.authenticator_class = 'dummy'
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = 'recording_spawner.RecordingSpawner'
c.RecordingSpawner.allowed_images = ${JSON.stringify(IMAGES)}
c.Spawner.default_url = '/lab'
`

t.test('JupyterHub starts a named server with the chosen image through its REST API', async (t) => {
  const started = Date.now()
  const hub = await startJupyterHub(t, { name: 'hub-smoke', config: CONFIG })
  t.comment(`hub ready in ${hub.proc.startMs} ms (with venv check ${Date.now() - started} ms)`)
  t.equal((await hub.api.info()).version, pinnedPackages().jupyterhub, 'the pinned JupyterHub answers')

  const user = await hub.api.createUser('learner-1')
  t.equal(user.name, 'learner-1')
  t.equal(user.admin, false)
  await hub.api.request('POST', '/groups/course-101', undefined, [201])
  await hub.api.request('POST', '/groups/course-101/users', { users: ['learner-1'] })
  t.same((await hub.api.user('learner-1'))?.groups, ['course-101'], 'the token may manage groups')

  const spawnStarted = Date.now()
  const status = await hub.api.startServer('learner-1', 'course-101', { image: 'python' })
  t.ok(status === 201 || status === 202, `the spawn was accepted (${status})`)
  const events = await hub.api.waitForServer('learner-1', 'course-101', 120_000)
  const spawnMs = Date.now() - spawnStarted
  t.comment(`named server ready in ${spawnMs} ms`)
  const ready = events.at(-1)
  t.equal(ready?.ready, true)
  t.equal(ready?.url, '/user/learner-1/course-101/')

  const model = await hub.api.user('learner-1')
  const server = model?.servers?.['course-101']
  t.equal(server?.ready, true)
  t.same(server?.user_options, { image: 'python' }, 'the hub keeps the user_options')

  // The server's page, through the proxy, with a token that may access servers.
  let url = `${hub.url}/user/learner-1/course-101/`
  let reply: Response | undefined
  for (let hop = 0; hop < 5; hop++) {
    reply = await fetch(url, { headers: { authorization: `token ${hub.apiToken}` }, redirect: 'manual' })
    const location = reply.headers.get('location')
    if (reply.status < 300 || reply.status >= 400 || location === null) break
    await reply.arrayBuffer()
    url = new URL(location, url).toString()
  }
  const page = await reply?.text() ?? ''
  t.equal(reply?.status, 200, `GET ${url}`)
  t.match(url, /\/user\/learner-1\/course-101\/lab/, 'the default URL is JupyterLab')
  t.match(page, /<title>JupyterLab<\/title>/, 'a JupyterLab page is served')
  t.match(page, /jupyter-config-data/)

  // What the spawner recorded, and what the server process was given.
  const record = JSON.parse(readFileSync(path.join(hub.recordDir, 'learner-1--course-101.json'), 'utf8')) as Record<string, unknown>
  t.equal(record.requested_image, 'python')
  t.equal(record.image, IMAGES.python, 'the alias resolved as DockerSpawner resolves it')
  t.same(record.user_options, { image: 'python' })
  t.same(record.groups, ['course-101'])
  const pid = (server?.state as { pid?: number } | undefined)?.pid
  t.ok(pid, 'the server state names its process')
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  t.ok(environ.includes(`JUPYTER_IMAGE=${IMAGES.python}`), 'JUPYTER_IMAGE is in the server environment')

  // A disallowed image: refused with DockerSpawner's message, nothing runs.
  const refusal = await hub.api.startServer('learner-1', 'elsewhere', { image: 'docker.io/evil/miner' }).then(
    () => undefined, (err: unknown) => err)
  t.type(refusal, HubError, 'a disallowed image is refused')
  t.equal((refusal as HubError).status, 400)
  t.match((refusal as HubError).body, /Image docker\.io\/evil\/miner not in allowed list: python, r/)
  t.notOk((await hub.api.user('learner-1'))?.servers?.elsewhere?.ready)

  await hub.api.stopServer('learner-1', 'course-101')
  for (let i = 0; i < 100; i++) {
    const after = await hub.api.user('learner-1')
    if (!after?.servers?.['course-101']?.ready && !after?.servers?.['course-101']?.pending) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const after = await hub.api.user('learner-1')
  t.notOk(after?.servers?.['course-101']?.ready, 'the server stops')
  t.comment(`whole smoke test ${Date.now() - started} ms`)
})
