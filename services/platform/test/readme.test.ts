import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse } from 'yaml'
import { authorizeGet, authParams, Browser, build, formOf, launchCsrf, signIn } from './helper.js'

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
const section = readme.slice(readme.indexOf('### Worked example: jupyterhub-ltiauthenticator'), readme.indexOf('## Users'))
const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
const pythonBlock = /```python\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
const trait = (name: string): string | undefined => new RegExp(`c\\.LTI13Authenticator\\.${name} = (.+)`).exec(pythonBlock)?.[1]?.trim()
const str = (value: string | undefined): string | undefined => value === undefined ? undefined : JSON.parse(value) as string

t.test('the worked example for jupyterhub-ltiauthenticator gives the exact values this platform serves', async (t) => {
  const registration = parse(yamlBlock)
  t.ok(registration.tools?.length === 1, 'the example registration parses')
  const origin = 'https://platform.example.edu'
  const app = await build(t, { env: { PUBLIC_URL: origin, PLATFORM_ISSUER: origin, PLATFORM_TOOLS: yamlBlock } })
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()

  t.equal(str(trait('issuer')), discovery.issuer)
  t.equal(str(trait('authorize_url')), discovery.authorization_endpoint)
  t.equal(str(trait('jwks_endpoint')), discovery.jwks_uri)
  t.same(JSON.parse(trait('client_id') ?? 'null'), [registration.tools[0].client_id])
  t.equal(str(trait('username_key')), 'email')
  t.ok((await app.inject(new URL(discovery.jwks_uri).pathname)).json().keys.length > 0, 'the JWKS is where the example says')

  // ltiauthenticator's own routes, and a launch through them.
  const tool = registration.tools[0]
  t.equal(tool.initiate_login_uri, 'https://hub.example.edu/hub/lti13/oauth_login')
  t.same(tool.redirect_uris, ['https://hub.example.edu/hub/lti13/oauth_callback'])
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const res = await browser.post('/launch', { csrf: await launchCsrf(browser), client_id: tool.client_id, course: 'ds101' })
  const location = new URL(res.headers.location as string)
  t.equal(`${location.origin}${location.pathname}`, tool.initiate_login_uri)
  const login = Object.fromEntries(location.searchParams)
  t.equal(login.iss, str(trait('issuer')))
  const form = formOf((await authorizeGet(browser, authParams(login, { redirect_uri: tool.redirect_uris[0] }))).body)
  t.equal(form.action, tool.redirect_uris[0])
  t.ok(form.fields.id_token)
})

t.test('the dev values in the README are the dev platform\'s', async (t) => {
  const app = await build(t, { store: 'memory', env: { PUBLIC_URL: 'http://localhost:3000' } })
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()
  for (const value of [discovery.issuer, discovery.authorization_endpoint, discovery.jwks_uri]) {
    t.ok(readme.includes(`"${value}"`), `${value} is in the README`)
  }
})
