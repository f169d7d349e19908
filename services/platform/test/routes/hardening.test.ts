import t from 'tap'
import { probeUnusableBodies } from '@ltilaunch/service-kit/testing'
import { build } from '../helper.js'

t.test('every route refuses every unusable body with a 4xx in the kit shape, never a 5xx', async (t) => {
  const app = await build(t)
  const { sent, problems } = await probeUnusableBodies(app, { prefix: 'PLATFORM' })
  t.ok(sent >= 5 * 13, `${sent} requests sent`)
  t.same(problems, [])
})
