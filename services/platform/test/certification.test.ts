import { checkLaunchClaims, LTI_CLAIM, MESSAGE_TYPE, ROLES } from '@ltilaunch/claims'
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose'
import t from 'tap'
import { authorizeGet, authParams, Browser, build, formOf, signIn, startLaunch, type App } from './helper.js'

const TOOLS = {
  pii: { client_id: 'test-tool', redirect: 'https://tool.example/callback' },
  private: { client_id: 'private-tool', redirect: 'https://private.example/callback' }
}

/** A launch as LTI certification looks at it: the verified payload the tool receives. */
async function payloadFor (app: App, username: string, tool: keyof typeof TOOLS): Promise<JWTPayload> {
  const browser = new Browser(app)
  await signIn(browser, username)
  const login = await startLaunch(browser, { client_id: TOOLS[tool].client_id, course: 'ds101', image: 'quay.io/jupyter/minimal-notebook:latest' })
  const params = authParams(login, { redirect_uri: TOOLS[tool].redirect })
  const form = formOf((await authorizeGet(browser, params)).body)
  const { payload } = await jwtVerify(form.fields.id_token as string, createLocalJWKSet(app.keys.jwks), {
    issuer: 'http://platform.test',
    audience: TOOLS[tool].client_id
  })
  if (payload.nonce !== params.nonce) throw new Error('the token does not carry the nonce')
  return payload
}

const REQUIRED = ['iss', 'aud', 'azp', 'sub', 'iat', 'exp', 'nonce', LTI_CLAIM.messageType, LTI_CLAIM.version, LTI_CLAIM.deploymentId,
  LTI_CLAIM.targetLinkUri, LTI_CLAIM.resourceLink, LTI_CLAIM.roles, LTI_CLAIM.context, LTI_CLAIM.toolPlatform, LTI_CLAIM.launchPresentation]
const PERSONAL = ['name', 'given_name', 'family_name', 'middle_name', 'email', 'picture']

const cases = [
  { who: 'a learner', username: 'ada', role: ROLES.membership.Learner, person: { name: 'Ada Lovelace', email: 'ada@example.edu' } },
  { who: 'an instructor', username: 'grace', role: ROLES.membership.Instructor, person: { name: 'Grace Hopper', email: 'grace@example.edu' } }
]

for (const c of cases) {
  t.test(`${c.who} with personal data: every required claim, and the name and email`, async (t) => {
    const app = await build(t)
    const payload = await payloadFor(app, c.username, 'pii')
    for (const claim of REQUIRED) t.ok(payload[claim] !== undefined, `has ${claim}`)
    t.same(checkLaunchClaims(payload).problems, [])
    t.equal(payload[LTI_CLAIM.messageType], MESSAGE_TYPE.resourceLink)
    t.equal(payload[LTI_CLAIM.version], '1.3.0')
    t.ok((payload[LTI_CLAIM.roles] as string[]).includes(c.role), 'role as a full URI')
    t.ok((payload[LTI_CLAIM.roles] as string[]).every((role) => role.startsWith('http://purl.imsglobal.org/vocab/')))
    t.match(payload[LTI_CLAIM.resourceLink], { id: 'ds101:test-tool', title: 'Test tool' })
    t.match(payload[LTI_CLAIM.context], { id: 'ds101', label: 'DS101', title: 'Data Science 101', type: ['http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering'] })
    t.match(payload[LTI_CLAIM.toolPlatform], { name: 'ltilaunch platform', product_family_code: 'ltilaunch', version: String })
    t.ok((payload[LTI_CLAIM.toolPlatform] as { guid: string }).guid)
    t.match(payload[LTI_CLAIM.launchPresentation], { document_target: 'window', return_url: 'http://platform.test/', locale: 'en' })
    t.equal(payload.name, c.person.name)
    t.equal(payload.email, c.person.email)
    t.ok(payload.given_name)
    t.ok(payload.family_name)
    const custom = payload[LTI_CLAIM.custom] as Record<string, string>
    t.equal(custom.mail, c.person.email, '$Person.email.primary substituted')
    t.equal(custom.full_name, c.person.name, '$Person.name.full substituted')
    t.equal(custom.username, c.username, '$User.username substituted')
    t.equal(custom.uid, payload.sub, '$User.id is the opaque sub')
    t.equal(custom.course_id, 'ds101')
    t.equal(custom.course_title, 'Data Science 101')
    t.equal(custom.link, 'ds101:test-tool')
    t.equal(custom.fixed, 'value')
    t.equal(custom.image, 'quay.io/jupyter/minimal-notebook:latest')
    t.equal(custom.course_name, 'Data Science 101')
  })

  t.test(`${c.who} without personal data: every required claim, and nothing personal anywhere`, async (t) => {
    const app = await build(t)
    const payload = await payloadFor(app, c.username, 'private')
    for (const claim of REQUIRED) t.ok(payload[claim] !== undefined, `has ${claim}`)
    t.same(checkLaunchClaims(payload).problems, [])
    t.ok((payload[LTI_CLAIM.roles] as string[]).includes(c.role))
    for (const claim of PERSONAL) t.notOk(claim in payload, `no ${claim}`)
    const text = JSON.stringify(payload)
    for (const value of [c.person.name, c.person.email, c.username, c.person.name.split(' ')[0] as string]) {
      t.notOk(text.includes(value), `"${value}" appears nowhere in the token`)
    }
    const custom = payload[LTI_CLAIM.custom] as Record<string, string>
    t.equal(custom.mail, '$Person.email.primary', 'a variable the platform may not fill is left as written')
    t.equal(custom.full_name, '$Person.name.full')
    t.equal(custom.username, '$User.username')
    t.equal(custom.uid, payload.sub, 'the opaque id is not personal data')
  })
}

t.test('sub is stable for a user across launches and opaque; different users differ', async (t) => {
  const app = await build(t)
  const first = await payloadFor(app, 'ada', 'pii')
  const second = await payloadFor(app, 'ada', 'private')
  const grace = await payloadFor(app, 'grace', 'pii')
  t.equal(first.sub, second.sub)
  t.not(first.sub, grace.sub)
  t.notOk(String(first.sub).includes('ada'))
  t.match(first.sub, /^[A-Za-z0-9_-]{43}$/)
})

t.test('with another subject secret the same user gets another sub (it is keyed, not a plain hash)', async (t) => {
  const a = await build(t)
  const b = await build(t, { env: { PLATFORM_SUBJECT_SECRET: 'another-subject-secret-0123456789abcdef' } })
  t.not((await payloadFor(a, 'ada', 'pii')).sub, (await payloadFor(b, 'ada', 'pii')).sub)
})

t.test('PLATFORM_SUBJECT=id sends the issuer-local id as sub', async (t) => {
  const app = await build(t, { env: { PLATFORM_SUBJECT: 'id' } })
  t.equal((await payloadFor(app, 'ada', 'pii')).sub, 'ada')
})
