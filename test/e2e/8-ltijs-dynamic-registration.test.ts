/**
 * Scenario 7: an independent tool registers itself with our platform by LTI
 * Dynamic Registration. ltijs (5.9, on PostgreSQL, with its own Dynamic
 * Registration service) starts knowing no platform; the platform's admin
 * pastes ltijs's registration URL; the browser opens it with our OpenID
 * configuration and a one-time registration token; ltijs reads the
 * configuration, registers at our registration endpoint, keeps the client
 * id we assigned and answers with `org.imsglobal.lti.close`. Then a learner
 * launches ltijs, which accepts our id_token for that client id.
 */
import t from 'tap'
import { BrowserClient } from '../harness/browser-client.js'
import { freePort } from '../harness/processes.js'
import { startLtijsTool } from '../peers/ltijs-tool.js'
import { stepsOf } from './launch.js'
import { launchFormFields, planStack, signIn, startStack } from './stack.js'

const started = Date.now()
const plan = await planStack('s8')
const platform = plan.platformUrl
const tool = await startLtijsTool(t, { name: 's8-ltijs', port: await freePort(), platform: [], dynamicRegistration: true })
await startStack(t, plan, { ourTool: false, tools: [] })
t.comment(`ltijs and platform ready in ${Date.now() - started} ms`)

let clientId = ''

t.test('the admin pastes ltijs\'s registration URL and ltijs registers itself', async (t) => {
  const admin = new BrowserClient()
  await signIn(admin, platform, 'alan')
  const tools = await admin.get(`${platform}/admin/tools`)
  const opening = await admin.submitForm(tools, { formIndex: 0, fields: { url: tool.registerUrl } })
  t.equal(opening.status, 200, opening.body.slice(0, 300))
  const frame = /<iframe id="registration" src="([^"]+)"/.exec(opening.body)?.[1]?.replaceAll('&amp;', '&')
  t.ok(frame, 'the tool is opened in a frame')

  const done = await admin.get(frame as string, { initiator: opening.url })
  t.equal(done.status, 200, done.body.slice(0, 500))
  t.match(done.body, /postMessage\(\{subject:"org\.imsglobal\.lti\.close"\}, "\*"\)/, 'ltijs says it is done')

  const listed = await admin.get(`${platform}/admin/tools`)
  const row = /<tr><td>s8-ltijs<\/td><td><code>([^<]+)<\/code><\/td>/.exec(listed.body)
  t.ok(row, 'the platform lists ltijs under the name it registered')
  clientId = row?.[1] ?? ''
  t.match(listed.body, 'by URL, ')
  t.match(listed.body, `<code>${tool.loginUrl}</code>`, 'with ltijs\'s login initiation URL')
})

t.test('a learner launches ltijs with the client id it was assigned', async (t) => {
  if (clientId === '') t.bailout('the registration failed')
  const client = new BrowserClient()
  const home = await signIn(client, platform, 'ada')
  const launch = await client.followLaunch(`${platform}/launch`, {
    method: 'POST',
    form: launchFormFields(home, { client_id: clientId, course: 'ds101' }),
    initiator: home.url,
    maxSteps: 20
  })
  t.equal(launch.page.status, 200, `the launch ends on the tool\n${stepsOf(launch)}`)
  t.match(launch.page.body, /ltijs accepted the launch/, 'ltijs accepted the id_token')
  const seen = await tool.waitForLaunch()
  t.match(seen.token, { iss: platform, clientId }, 'for our issuer and the assigned client id')
  t.equal(seen.context.messageType, 'LtiResourceLinkRequest')
  t.same(await tool.refusals(), [], 'ltijs refused nothing')
  t.comment(`scenario 7: ${Date.now() - started} ms`)
})
