import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ImagePolicy } from '../../src/policy/image-policy.js'
import { build, MINIMAL, PYTORCH, SCIPY, SERVICE_TOKEN } from '../helper.js'

t.test('the image list needs the service token', async (t) => {
  const app = await build(t, { store: 'memory' })
  const none = await app.inject({ url: '/v1/images' })
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'BROKER_UNAUTHORIZED')
  const wrong = await app.inject({ url: '/v1/images', headers: { authorization: `Bearer ${SERVICE_TOKEN}x` } })
  t.equal(wrong.statusCode, 401)
})

t.test('the image list is the policy: aliases as references, names and descriptions from the file, staff-only marked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'broker-images-'))
  const path = join(dir, 'policy.json')
  writeFileSync(path, JSON.stringify({
    allowed: {
      minimal: MINIMAL,
      pytorch: { image: PYTORCH, name: 'PyTorch', description: 'Deep learning with PyTorch' },
      scipy: { image: SCIPY, name: 'SciPy' }
    },
    patterns: ['registry\\.example\\.org/.+'],
    staffOnly: ['scipy']
  }))
  const app = await build(t, { store: 'memory', env: { ALLOWED_IMAGES: '', DEFAULT_IMAGE: '', IMAGE_POLICY_FILE: path } })
  const res = await app.inject({ url: '/v1/images', headers: { authorization: `Bearer ${SERVICE_TOKEN}` } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    images: [
      { reference: 'minimal', image: MINIMAL, name: 'minimal', staffOnly: false },
      { reference: 'pytorch', image: PYTORCH, name: 'PyTorch', description: 'Deep learning with PyTorch', staffOnly: false },
      { reference: 'scipy', image: SCIPY, name: 'SciPy', staffOnly: true }
    ],
    default: MINIMAL,
    patterns: ['registry\\.example\\.org/.+']
  })
  // Every reference offered is one the same policy accepts for staff.
  for (const image of res.json().images) t.equal(app.imagePolicy.resolve(image.reference, 'staff').image, image.image)
})

t.test('a list policy offers the images themselves; a described entry must name its image', async (t) => {
  const policy = new ImagePolicy({ allowed: [MINIMAL, { image: SCIPY, name: 'SciPy' }, MINIMAL] })
  t.same(policy.catalog, [
    { reference: MINIMAL, image: MINIMAL, name: MINIMAL, staffOnly: false },
    { reference: SCIPY, image: SCIPY, name: 'SciPy', staffOnly: false }
  ], 'an image listed twice is offered once')
  t.equal(policy.resolve(SCIPY, 'learner').image, SCIPY, 'a described entry is allowed like a bare one')
  t.throws(() => new ImagePolicy({ allowed: [{ name: 'no image' } as unknown as string] }), /allowed\[0\]: give the image/)
  t.throws(() => new ImagePolicy({ allowed: { x: { image: SCIPY, name: 3 as unknown as string } } }), /allowed\.x\.name must be a string/)
})
