/**
 * Scenario 22: the three services on a real Redis Sentinel setup (a
 * primary, a replica and three sentinels with quorum 2, redis-server on
 * loopback, REDIS_SENTINELS): a launch in a browser, then launches in flight
 * while the primary is killed (SIGKILL) and the sentinels promote the
 * replica. Every launch the services accepted must end ready, or failed with
 * its retry button; what each browser saw is counted (dry-run driver, no hub).
 */
import t from 'tap'
import { startRedisSentinel } from '../harness/redis-topologies.js'
import { topologyScenario } from './failover-load.js'

await topologyScenario(t, 's22', await startRedisSentinel(t, 's22-redis'))
