import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@ltilaunch/service-kit'
import t from 'tap'
import { stringify } from 'yaml'
import { readConfig } from '../src/config.js'
import { verifyPassword } from '../src/lib/password.js'
import { TEST_ENV, TEST_TOOLS } from './helper.js'

function problemsOf (env: Record<string, string>): string[] {
  try {
    readConfig({ ...TEST_ENV, ...env })
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

const tool = TEST_TOOLS.tools[0] as Record<string, unknown>

t.test('each bad setting stops the start with its name and why', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PLATFORM_TOOLS: '{ not json' }, /^PLATFORM_TOOLS: /],
    [{ PLATFORM_TOOLS: JSON.stringify({ tools: [{ ...tool, redirect_uris: [] }] }) }, /PLATFORM_TOOLS: .*redirect_uris/],
    [{ PLATFORM_TOOLS: JSON.stringify({ tools: [{ ...tool, initiate_login_uri: 'javascript:alert(1)' }] }) }, /PLATFORM_TOOLS: .*initiate_login_uri/],
    [{ PLATFORM_TOOLS: JSON.stringify({ tools: [tool, tool] }) }, /registered twice/],
    [{ PLATFORM_TOOLS: JSON.stringify({ tools: [{ ...tool, deployment_ids: undefined }] }) }, /deployment_ids/],
    [{ PLATFORM_TOOLS: JSON.stringify({ tools: [{ ...tool, surprise: true }] }) }, /PLATFORM_TOOLS/],
    [{ PLATFORM_USERS: JSON.stringify({ users: [{ username: 'bob', password: 'plain' }] }) }, /PLATFORM_USERS: .*hash-password/],
    [{ PLATFORM_USERS: JSON.stringify({ users: [{ username: 'bob', password: 'scrypt:16384:8:1:AAAA:AAAA', courses: { nope: ['Learner'] } }] }) }, /course nope/],
    [{ PLATFORM_USERS: JSON.stringify({ users: [{ username: 'bob', password: 'scrypt:1048576:8:1:AAAA:AAAA' }] }) }, /PLATFORM_USERS: .*scrypt hash/],
    [{ PLATFORM_USERS: JSON.stringify({ users: [{ username: 'bob', password: 'scrypt:1000:8:1:AAAA:AAAA' }] }) }, /PLATFORM_USERS: .*scrypt hash/],
    [{ PLATFORM_API_KEYS: 'my-plain-key' }, /PLATFORM_API_KEYS: .*sha256/],
    [{ PLATFORM_SIGNING_KEY: 'not a key' }, /PLATFORM_SIGNING_KEY: not a PEM private key/],
    [{ PLATFORM_SIGNING_KEY: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, /at least 2048 bits/],
    [{ PLATFORM_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, /unsupported key type ed25519/],
    [{ PLATFORM_NEXT_KEY: 'garbage' }, /PLATFORM_NEXT_KEY: no PEM key/],
    [{ PLATFORM_SESSION_SECRET: 'short' }, /PLATFORM_SESSION_SECRET/],
    [{ ID_TOKEN_TTL: '5' }, /ID_TOKEN_TTL/],
    [{ PLATFORM_SUBJECT: 'username' }, /PLATFORM_SUBJECT/],
    [{ PLATFORM_TOOLS: JSON.stringify({ tools: [{ ...tool, jwks_uri: 'https://tool.example/jwks', scopes: ['https://purl.imsglobal.org/spec/lti-ags/scope/everything'] }] }) }, /PLATFORM_TOOLS: .*scopes: .*not an AGS or NRPS scope/],
    [{ PLATFORM_SCORE_WEBHOOK_URL: 'https://host.example/hooks' }, /PLATFORM_SCORE_WEBHOOK_URL and PLATFORM_SCORE_WEBHOOK_SECRET: give both/],
    [{ PLATFORM_SCORE_WEBHOOK_URL: 'ftp://host.example/hooks', PLATFORM_SCORE_WEBHOOK_SECRET: 'x'.repeat(32) }, /PLATFORM_SCORE_WEBHOOK_URL/],
    [{ PLATFORM_SCORE_WEBHOOK_URL: 'https://host.example/hooks', PLATFORM_SCORE_WEBHOOK_SECRET: 'short' }, /PLATFORM_SCORE_WEBHOOK_SECRET/],
    [{ PLATFORM_ACCESS_TOKEN_TTL: '1' }, /PLATFORM_ACCESS_TOKEN_TTL/]
  ]
  for (const [env, expected] of cases) {
    const problems = problemsOf(env)
    t.ok(problems.some((problem) => expected.test(problem)), `${Object.keys(env).join()}: ${problems.join(' | ')}`)
  }
})

t.test('registrations and users may be YAML files named by *_FILE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'platform-config-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'tools.yaml'), stringify(TEST_TOOLS))
  const env = { ...TEST_ENV, PLATFORM_TOOLS: '', PLATFORM_TOOLS_FILE: join(dir, 'tools.yaml') }
  const config = readConfig(env)
  t.same(config.tools.map((entry) => entry.clientId), ['test-tool', 'private-tool', 'post-tool'])
  t.same(config.tools[0]?.deploymentIds, ['dep-1', 'dep-2'])
  t.equal(config.tools[1]?.sendEmail, false)
  t.equal(config.tools[0]?.sendEmail, true, 'personal data is sent unless the registration says not')
})

t.test('the issuer defaults to PUBLIC_URL, without a trailing slash', async (t) => {
  const config = readConfig({ ...TEST_ENV, PUBLIC_URL: 'https://lms.example.edu/' })
  t.equal(config.issuer, 'https://lms.example.edu')
  t.equal(config.publicUrl, 'https://lms.example.edu')
})

t.test('the development defaults load, and the documented dev passwords work', async (t) => {
  const text = await readFile('../../dev/platform.env', 'utf8')
  const env = Object.fromEntries(text.split('\n').filter((line) => /^[A-Z_]+=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
  const config = readConfig({ ...env, LOG_LEVEL: 'silent' })
  t.equal(config.issuer, 'http://localhost:3000')
  const hub = config.tools.find((entry) => entry.clientId === 'ltilaunch-jupyterhub')
  t.match(hub, {
    deploymentIds: ['1'],
    initiateLoginUri: 'http://localhost:3001/lti13/oauth_login',
    targetLinkUri: 'http://localhost:3001/lti13/launch',
    redirectUris: ['http://localhost:3001/lti13/oauth_callback'],
    jwksUri: 'http://localhost:3001/lti13/jwks'
  })
  t.same(hub?.images.map((image) => image.value), [
    'quay.io/jupyter/minimal-notebook:latest',
    'quay.io/jupyter/scipy-notebook:latest',
    'quay.io/jupyter/pytorch-notebook:latest'
  ])
  for (const image of hub?.images ?? []) t.ok(image.label !== image.value && image.description !== undefined, `dev image ${image.value} has a name and a description`)
  for (const username of ['ada', 'grace', 'alan']) {
    const user = config.directory.users.find((entry) => entry.username === username)
    t.ok(await verifyPassword(`${username}-dev-password`, user?.passwordHash), `${username} / ${username}-dev-password`)
  }
  t.same(config.directory.users.find((entry) => entry.username === 'grace')?.courses, { ds101: ['Instructor'], ml201: ['Learner'] })
  t.equal(config.apiKeyHashes.length, 1)
})
