import t from 'tap'
import { spawnJobCodec } from '../../src/queue/spawn-job.js'

t.test('a spawn job keeps the stream fields older brokers wrote and read', async (t) => {
  t.same(spawnJobCodec.encode({ launchId: 'L1', attempt: 2 }), { launch: 'L1', attempt: '2' })
  t.same(spawnJobCodec.decode({ launch: 'L1', attempt: '2' }), { launchId: 'L1', attempt: 2 })
  t.same(spawnJobCodec.decode({ launch: 'L1' }), { launchId: 'L1', attempt: 0 }, 'an entry without an attempt is attempt 0')
  t.equal(spawnJobCodec.decode({ payload: '{}' }), undefined, 'an entry of no launch is skipped')
})
