import t from 'tap'
import { deliverableLaunchClaims, LAUNCH_CLAIMS_MAX_BYTES, type LaunchInput } from '../../src/lib/launch.js'
import { parseRegistrations } from '../../src/lib/registrations.js'
import { TEST_TOOLS } from '../helper.js'

const identity = { guid: 'g', name: 'Test platform', version: '0', url: 'http://platform.test/' }
const tool = parseRegistrations(JSON.stringify(TEST_TOOLS))[2]

function input (roles: string[]): LaunchInput {
  if (tool === undefined) throw new Error('no post-tool')
  return { tool, deploymentId: '1', user: { id: 'u', sub: 's' }, roles, resourceLink: { id: 'r' } }
}

// The API's and the users file's schemas keep each field small, so today only
// their sum could grow past the limit: this is the guard on that sum.
t.test('launch claims too large for an id_token the tool accepts are refused with their size and the limit', async (t) => {
  const role = (i: number): string => `http://example.org/roles#${String(i).padStart(1000, '0')}`
  const fits = input(Array.from({ length: 10 }, (_, i) => role(i)))
  t.type(deliverableLaunchClaims(fits, identity), 'object')
  const huge = input(Array.from({ length: Math.ceil(LAUNCH_CLAIMS_MAX_BYTES / 1000) }, (_, i) => role(i)))
  t.throws(() => deliverableLaunchClaims(huge, identity), { code: 'PLATFORM_LAUNCH_TOO_LARGE', statusCode: 422, message: new RegExp(`at most ${LAUNCH_CLAIMS_MAX_BYTES} fit`) })
})

t.test('a launch that cannot be built at all is PLATFORM_LAUNCH_INVALID', async (t) => {
  t.throws(() => deliverableLaunchClaims({ ...input([]), resourceLink: { id: '' } }, identity), { code: 'PLATFORM_LAUNCH_INVALID' })
})
