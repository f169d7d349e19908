/**
 * Scenario 16: grades from a notebook and course rosters, through the whole
 * stack and a real hub. platform → tool-auth → spawner-broker → JupyterHub
 * (GenericOAuthenticator, the RecordingSpawner running a real
 * jupyterhub-singleuser from the virtualenv, LTILAUNCH_SCORES_URL in the
 * servers' environment as the hub configs set it).
 *
 * 1. ada (learner) launches into JupyterLab; inside her running server (a
 *    kernel of it, with the server's own JUPYTERHUB_API_TOKEN) the
 *    ltilaunch-scores client, pip-installed from clients/python into the
 *    virtualenv, posts 8/10 and waits until it is sent; the platform's
 *    gradebook (host API, and the course page as grace) shows 8/10 for ada
 *    on the resource link's line item.
 * 2. grace (instructor) launches with roster sync on: afterwards the hub has
 *    the course's users and its group course:ds101 holds ada, grace and alan
 *    (who never launched).
 * 3. a score queued while the platform is down, tool-auth stopped and
 *    started again before it could be sent: it still reaches the platform.
 */
import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { startJupyterHub } from '../harness/jupyterhub.js'
import { runInServer, type CellResult } from '../harness/kernel.js'
import { pipInstallLocal } from '../setup/peers.js'
import { launchThroughStack, stepsOf } from './launch.js'
import { CLIENT_ID, cryptKey, genericOAuthHubConfig, planStack, repoDir, signIn, startStack, USERS } from './stack.js'

const COURSE = 'ds101'
const started = Date.now()
const plan = await planStack('s16')
const apiKey = randomBytes(32).toString('hex')

const installStarted = Date.now()
await pipInstallLocal(path.join(repoDir, 'clients', 'python'))
t.comment(`clients/python installed into the virtualenv in ${Date.now() - installStarted} ms`)

const hub = await startJupyterHub(t, {
  name: 's16-hub',
  port: plan.hubPort,
  config: `${genericOAuthHubConfig(plan)}
# Where notebooks post grades, as the hub configs of dev/ and deploy/ set it.
c.Spawner.environment = {'LTILAUNCH_SCORES_URL': ${JSON.stringify(`${plan.toolAuthUrl}/scores`)}}
`,
  env: { JUPYTERHUB_CRYPT_KEY: cryptKey() }
})
const stack = await startStack(t, plan, {
  hub,
  env: {
    platform: { PLATFORM_API_KEYS: `sha256:${createHash('sha256').update(apiKey).digest('hex')}` },
    toolAuth: {
      token_url: `${plan.platformUrl}/lti/token`,
      HUB_API_URL: hub.apiUrl,
      ROSTER_SYNC: 'true',
      // Short retries, so that a score held back by a stopped platform goes soon after it is back.
      SCORE_RETRY_BASE_MS: '500',
      SCORE_RETRY_MAX_MS: '2000',
      SCORE_CLAIM_IDLE_MS: '1000'
    }
  }
})
t.comment(`hub and stack ready in ${Date.now() - started} ms (hub ${hub.proc.startMs} ms)`)

const ada = USERS.ada.email
let adaServerUrl = ''
let adaSub = ''

interface HostScore {
  lineItem: { id: string, label: string, scoreMaximum: number, resourceLinkId?: string }
  clientId: string
  user: { sub: string, name?: string }
  scoreGiven?: number
  scoreMaximum?: number
}

async function hostScores (): Promise<HostScore[]> {
  const reply = await fetch(`${plan.platformUrl}/api/v1/courses/${COURSE}/scores`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(5000) })
  if (reply.status !== 200) throw new Error(`GET /api/v1/courses/${COURSE}/scores: ${reply.status} ${await reply.text()}`)
  return (await reply.json() as { scores: HostScore[] }).scores
}

async function inAdasServer (code: string): Promise<CellResult> {
  return await runInServer({ serverUrl: adaServerUrl, token: hub.apiToken, code, timeoutMs: 90_000 })
}

/** The JSON a cell printed last. */
function printed (result: CellResult): Record<string, unknown> {
  if (result.status !== 'ok') throw new Error(`the cell failed: ${JSON.stringify(result.error)}\n${result.stderr}`)
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(250)
  }
}

t.test('1. ada posts 8/10 from inside her running server; the gradebook shows it', async (t) => {
  const launchStarted = Date.now()
  const launch = await launchThroughStack(stack, 'ada', { course: COURSE })
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  t.match(launch.page.body, /<title>JupyterLab<\/title>/, 'in JupyterLab')
  const record = await stack.brokerLaunch(launch.launchId ?? '')
  const model = await hub.api.user(ada)
  const server = model?.servers?.[record.serverName]
  t.equal(server?.ready, true, 'her named server runs')
  adaServerUrl = `${hub.url}${server?.url ?? ''}`
  t.comment(`ada's launch: ${Date.now() - launchStarted} ms`)

  const cellStarted = Date.now()
  const result = await inAdasServer(`
import json, os
from ltilaunch_scores import post_score
record = post_score(8, 10, comment="from ada's notebook", wait=True)
print(json.dumps({"record": record, "user": os.environ["JUPYTERHUB_USER"], "has_token": bool(os.environ.get("JUPYTERHUB_API_TOKEN")), "scores_url": os.environ.get("LTILAUNCH_SCORES_URL")}))
`)
  const out = printed(result)
  t.comment(`post_score(…, wait=True) in the kernel: ${Date.now() - cellStarted} ms`)
  t.equal(out.user, ada, 'the cell ran in ada\'s server')
  t.equal(out.has_token, true, 'with the server\'s JUPYTERHUB_API_TOKEN')
  t.equal(out.scores_url, `${plan.toolAuthUrl}/scores`)
  t.match(out.record, { state: 'sent' }, 'the platform took the score')

  const scores = await hostScores()
  t.equal(scores.length, 1, 'one score in the course')
  const score = scores[0]
  t.match(score, {
    lineItem: { resourceLinkId: `${COURSE}:${CLIENT_ID}` },
    clientId: CLIENT_ID,
    user: { name: 'Ada Lovelace' },
    scoreGiven: 8,
    scoreMaximum: 10
  }, 'the host API: 8/10 for ada on the resource link\'s line item')
  adaSub = score?.user.sub ?? ''

  const client = new BrowserClient()
  await signIn(client, plan.platformUrl, 'grace')
  const page = await client.get(`${plan.platformUrl}/courses/${COURSE}`)
  t.equal(page.status, 200)
  const rows = (page.body.match(/<tr>(?:(?!<\/tr>)[\s\S])*<\/tr>/g) ?? []).filter((row) => row.includes('<td>Ada Lovelace</td>'))
  t.equal(rows.length, 1, 'one gradebook row for ada')
  t.match(rows[0], '<td>8 / 10</td><td>Completed, FullyGraded</td>', 'the course page\'s gradebook: 8 / 10 for ada')
})

t.test('2. grace launches with roster sync on: the hub gets the course\'s users and group', async (t) => {
  const launch = await launchThroughStack(stack, 'grace', { course: COURSE })
  t.equal(launch.page.status, 200, `the launch ends on a page\n${stepsOf(launch)}`)
  t.match(launch.page.body, /<title>JupyterLab<\/title>/)
  const syncStarted = Date.now()
  const expected = [USERS.ada.email, USERS.alan.email, USERS.grace.email].sort()
  const group = await until('the course group with every member', 90_000, async () => {
    const found = (await hub.api.groups()).find((g) => g.name === `course:${COURSE}`)
    return found !== undefined && [...found.users].sort().join() === expected.join() ? found : undefined
  })
  t.comment(`roster applied ${Date.now() - syncStarted} ms after grace's launch ended`)
  t.same([...group.users].sort(), expected, 'course:ds101 holds ada, grace and alan')
  const alan = await hub.api.user(USERS.alan.email)
  t.ok(alan, 'alan, who never launched, is a hub user')
  // (include_stopped_servers lists his never-started default server too)
  t.same(Object.values(alan?.servers ?? {}).filter((server) => server.ready || server.pending !== null), [], 'with no server running or starting for him')
  t.ok((await hub.api.user(USERS.grace.email))?.groups.includes(`course:${COURSE}`), 'grace is in the course group')
})

t.test('3. a score queued while the platform is down survives a tool-auth restart', async (t) => {
  t.ok(adaServerUrl, 'ada\'s server from scenario 1')
  await stack.platform.stop()
  const queued = printed(await inAdasServer(`
import json
from ltilaunch_scores import post_score
print(json.dumps(post_score(9, 10, comment="sent while the platform was down")))
`))
  t.match(queued, { id: /.+/, state: /^(queued|retrying)$/ }, `accepted and queued: ${JSON.stringify(queued)}`)

  const restartStarted = Date.now()
  await stack.toolAuth?.stop()
  await stack.restart('platform')
  await stack.restart('tool-auth')
  const nine = await until('ada\'s 9/10 at the platform', 90_000, async () => {
    const score = (await hostScores()).find((s) => s.user.sub === adaSub)
    return score?.scoreGiven === 9 ? score : undefined
  })
  t.comment(`the queued score reached the platform ${Date.now() - restartStarted} ms after the restarts began`)
  t.match(nine, { scoreGiven: 9, scoreMaximum: 10, lineItem: { resourceLinkId: `${COURSE}:${CLIENT_ID}` } })
  const status = printed(await inAdasServer(`
import json
from ltilaunch_scores import score_status
print(json.dumps(score_status(${JSON.stringify(String(queued.id))})))
`))
  t.match(status, { id: queued.id, state: 'sent' }, 'its state, asked from the notebook: sent')
  t.equal((await hostScores()).length, 1, 'still one score for ada on that line item (the latest)')
})

t.test('timing', async (t) => {
  t.comment(`scenario 16: ${Date.now() - started} ms`)
  t.pass()
})
