import { redisConfigured } from '../store/index.js'
import { MemoryQueue } from './memory.js'
import type { WorkQueue } from './queue.js'
import { RedisStreamQueue, type RedisStreamQueueOptions } from './redis-stream.js'

/**
 * A Redis Stream queue when the settings name a Redis (connected, or still
 * trying in the background), the in-process queue otherwise.
 */
export async function createWorkQueue<P> (options: RedisStreamQueueOptions<P>): Promise<WorkQueue<P>> {
  if (!redisConfigured(options.settings)) return new MemoryQueue<P>({ claimIdleMs: options.claimIdleMs })
  const queue = new RedisStreamQueue<P>(options)
  await queue.connect()
  return queue
}
