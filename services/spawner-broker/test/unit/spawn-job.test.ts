import t from 'tap'
import { spawnJobCodec } from '../../src/queue/spawn-job.js'

t.test('a spawn job keeps the stream fields older brokers wrote and read', async (t) => {
  t.same(spawnJobCodec.encode({ launchId: 'L1', attempt: 2 }), { launch: 'L1', attempt: '2' })
  t.same(spawnJobCodec.decode({ launch: 'L1', attempt: '2' }), { launchId: 'L1', attempt: 2 })
  t.same(spawnJobCodec.decode({ launch: 'L1' }), { launchId: 'L1', attempt: 0 }, 'an entry without an attempt is attempt 0')
  t.equal(spawnJobCodec.decode({ payload: '{}' }), undefined, 'an entry of no launch is skipped')
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  t.same(spawnJobCodec.encode({ launchId: 'L1', attempt: 1, traceparent }), { launch: 'L1', attempt: '1', traceparent })
  t.same(spawnJobCodec.decode({ launch: 'L1', attempt: '1', traceparent }), { launchId: 'L1', attempt: 1, traceparent }, 'the trace of the queuing request travels with the entry')
})
