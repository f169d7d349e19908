export { createWorkQueue } from './create.js'
export { MemoryQueue } from './memory.js'
export { consumerName, entryAgeSeconds, jsonCodec, type PayloadCodec, type QueueEntry, type QueueStats, type WorkQueue } from './queue.js'
export { RedisStreamQueue, type RedisStreamQueueOptions } from './redis-stream.js'
