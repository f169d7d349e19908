/**
 * Scenario 21: the three services on a real Redis Cluster (three masters
 * with a replica each, redis-server on loopback, REDIS_CLUSTER_NODES): a
 * launch in a browser, then launches in flight while the master that holds
 * the broker's queue is killed (SIGKILL) and its replica takes over. Every
 * launch the services accepted must end ready, or failed with its retry
 * button; what each browser saw is counted (dry-run driver, no hub).
 */
import t from 'tap'
import { startRedisCluster } from '../harness/redis-topologies.js'
import { topologyScenario } from './failover-load.js'

await topologyScenario(t, 's21', await startRedisCluster(t, 's21-redis'))
