import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@ltilaunch/service-kit'
import t from 'tap'
import { readConfig } from '../../src/config.js'
import { ImagePolicy, ImageRefusal, loadImagePolicy, parseAllowedImages } from '../../src/policy/image-policy.js'
import { MINIMAL, SCIPY, TEST_ENV } from '../helper.js'

const dir = mkdtempSync(join(tmpdir(), 'broker-policy-'))
function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

t.test('ALLOWED_IMAGES: a list, or alias=image entries like DockerSpawner allowed_images', async (t) => {
  t.same(parseAllowedImages('a:1, b:2'), ['a:1', 'b:2'])
  t.same(parseAllowedImages('x=a:1, b:2'), { x: 'a:1', 'b:2': 'b:2' })
  const list = new ImagePolicy({ allowed: ['a:1', 'b:2'] })
  t.equal(list.defaultImage, 'a:1', 'the first image is the default')
  t.same(list.resolve('b:2', 'learner'), { image: 'b:2', via: 'listed' })
  const map = new ImagePolicy({ allowed: { x: 'a:1' }, default: 'x' })
  t.equal(map.defaultImage, 'a:1', 'an alias may name the default')
  t.same(map.resolve('x', 'learner'), { image: 'a:1', alias: 'x', via: 'alias' })
  t.same(map.resolve('a:1', 'learner'), { image: 'a:1', via: 'listed' })
})

t.test('patterns match whole images only', async (t) => {
  const policy = new ImagePolicy({ allowed: ['a:1'], patterns: ['quay\\.io/jupyter/.*', '^ghcr\\.io/org/nb:v\\d+$'] })
  t.equal(policy.resolve('quay.io/jupyter/x:1', 'learner').via, 'pattern')
  t.equal(policy.resolve('ghcr.io/org/nb:v12', 'learner').via, 'pattern')
  for (const image of ['evil.io/quay.io/jupyter/x', 'ghcr.io/org/nb:v12-evil', 'ghcr.io/org/nb:v12\nx']) {
    t.throws(() => policy.resolve(image, 'staff'), ImageRefusal, image)
  }
})

t.test('a policy that cannot work stops the start with a clear message', async (t) => {
  t.throws(() => new ImagePolicy({ allowed: [] }), /allows no image/)
  t.throws(() => new ImagePolicy({ patterns: ['a.*'] }), /default image is required/)
  t.throws(() => new ImagePolicy({ allowed: ['a'], patterns: ['(unclosed'] }), /not a valid regular expression/)
  t.throws(() => new ImagePolicy({ allowed: { x: '' } }), /allowed\.x/)
  t.throws(() => new ImagePolicy({ allowed: ['a'], learnerImages: 'some' as 'any' }), /learnerImages/)
})

t.test('IMAGE_POLICY_FILE: JSON, with role limits', async (t) => {
  const path = file('policy.json', JSON.stringify({
    allowed: { minimal: MINIMAL, scipy: SCIPY },
    patterns: ['registry\\.example\\.org/.+'],
    default: 'minimal',
    staffOnly: ['scipy'],
    learnerImages: 'allowed'
  }))
  const config = readConfig({ ...TEST_ENV, ALLOWED_IMAGES: '', DEFAULT_IMAGE: '', IMAGE_POLICY_FILE: path })
  const policy = await loadImagePolicy(config)
  t.equal(policy.resolve(undefined, 'learner').image, MINIMAL)
  t.throws(() => policy.resolve('scipy', 'learner'), /only be started by staff/)
  t.throws(() => policy.resolve('registry.example.org/x', 'learner'), /only be chosen by staff/)
  t.equal(policy.resolve('scipy', 'staff').image, SCIPY)
  t.equal(policy.resolve('registry.example.org/x', 'staff').via, 'pattern')
})

t.test('IMAGE_POLICY_FILE may be YAML', async (t) => {
  const yaml = file('policy.yml', `allowed:\n  minimal: ${MINIMAL}\n`)
  const policy = await loadImagePolicy(readConfig({ ...TEST_ENV, ALLOWED_IMAGES: '', IMAGE_POLICY_FILE: yaml }))
  t.equal(policy.defaultImage, MINIMAL)
  t.equal(policy.resolve('minimal', 'learner').image, MINIMAL, 'the alias from the YAML map resolves')
})

t.test('IMAGE_POLICY_FILE problems are ConfigErrors naming the file', async (t) => {
  const missing = readConfig({ ...TEST_ENV, ALLOWED_IMAGES: '', IMAGE_POLICY_FILE: join(dir, 'nope.json') })
  await t.rejects(loadImagePolicy(missing), ConfigError)
  await t.rejects(loadImagePolicy(missing), /cannot read .*nope\.json \(ENOENT\)/)
  const broken = readConfig({ ...TEST_ENV, ALLOWED_IMAGES: '', IMAGE_POLICY_FILE: file('broken.json', '{"allowed": [') })
  await t.rejects(loadImagePolicy(broken), /not valid JSON or YAML/)
  const list = readConfig({ ...TEST_ENV, ALLOWED_IMAGES: '', IMAGE_POLICY_FILE: file('list.json', '["a"]') })
  await t.rejects(loadImagePolicy(list), /must hold an object/)
})

t.test('the config: every setting checked at start', async (t) => {
  t.throws(() => readConfig({ ...TEST_ENV, BROKER_SERVICE_TOKEN: '' }), /BROKER_SERVICE_TOKEN is required/)
  t.throws(() => readConfig({ ...TEST_ENV, BROKER_SERVICE_TOKEN: 'short' }), /BROKER_SERVICE_TOKEN/)
  t.throws(() => readConfig({ ...TEST_ENV, ALLOWED_IMAGES: '', DEFAULT_IMAGE: '' }), /IMAGE_POLICY_FILE, ALLOWED_IMAGES or IMAGE_PATTERNS is required/)
  t.throws(() => readConfig({ ...TEST_ENV, IMAGE_POLICY_FILE: '/x.json' }), /both set/)
  t.throws(() => readConfig({ ...TEST_ENV, SPAWN_DRIVER: 'jupyterhub' }), /HUB_URL is required[\s\S]*HUB_API_TOKEN/)
  t.throws(() => readConfig({ ...TEST_ENV, HUB_URL: 'http://hub:8000' }), /HUB_API_TOKEN/, 'HUB_URL alone picks the jupyterhub driver, which needs a token')
  t.throws(() => readConfig({ ...TEST_ENV, ON_IMAGE_CHANGE: 'explode' }), /ON_IMAGE_CHANGE/)
  t.throws(() => readConfig({ ...TEST_ENV, QUEUE_CLAIM_IDLE_MS: '10' }), /QUEUE_CLAIM_IDLE_MS/)
  t.equal(readConfig(TEST_ENV).SPAWN_DRIVER, 'dry-run', 'dry-run without a hub')
  const hub = readConfig({ ...TEST_ENV, HUB_URL: 'http://hub:8000', HUB_API_TOKEN: 'secret-token', HUB_NAMED_SERVERS: 'true' })
  t.equal(hub.SPAWN_DRIVER, 'jupyterhub')
  t.equal(hub.HUB_NAMED_SERVERS, true)
})

t.test('the token may come from a file (HUB_API_TOKEN_FILE)', async (t) => {
  const path = file('hub-token', 'from-a-file-0123\n')
  const config = readConfig({ ...TEST_ENV, HUB_URL: 'http://hub:8000', HUB_API_TOKEN_FILE: path })
  t.equal(config.HUB_API_TOKEN, 'from-a-file-0123')
})
