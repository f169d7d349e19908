import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'
import type { FastifyReply } from 'fastify'
import { errorCodeOf } from './plugins/errors.js'
import type { Store } from './store/store.js'

export { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** The label of a value that no configuration vouches for: one series, whatever an attacker sends. */
export const UNKNOWN_LABEL = 'unknown'

/**
 * A label value from an open set (an issuer, say), kept bounded: the value
 * itself only when `known` vouches for it, else `unknown`. Never give it a
 * user, a launch id or a course: those are unbounded by nature.
 */
export function boundedLabel (value: string | undefined, known: (value: string) => boolean): string {
  return value !== undefined && value !== '' && known(value) ? value : UNKNOWN_LABEL
}

/** Buckets (seconds) for steps a person waits on: a request, a login, a spawn. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/**
 * The launch's steps, one histogram that tool-auth (login, callback) and the
 * broker (intake, spawn, ready) each register, so a dashboard reads them as one.
 */
export function launchStepHistogram (registry: Registry): Histogram<'step' | 'outcome'> {
  return new Histogram({
    name: 'ltilaunch_launch_step_duration_seconds',
    help: 'how long each step of a launch took (tool-auth: login, callback; broker: intake, spawn, ready), by outcome',
    labelNames: ['step', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry]
  })
}

/** A reply's error code as a metric label: the code it carried, `none` for a success, else `HTTP_<status>`. */
export function replyCodeLabel (reply: FastifyReply): string {
  return errorCodeOf(reply) ?? (reply.statusCode < 400 ? 'none' : `HTTP_${reply.statusCode}`)
}

/** Buckets (seconds) for one round trip to the state store. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

let processRegistry: Registry | undefined

/**
 * The process's own series (event loop lag, heap, GC, CPU, handles), once per
 * process: prom-client's collectors watch the process, not an app, so every
 * app of a process (tests build many) shares them.
 */
export function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** The generic series every service has: HTTP requests, rate-limit refusals, the store. */
export class KitMetrics {
  readonly registry: Registry
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>
  readonly rateLimited: Counter<'route'>
  readonly storeDuration: Histogram<'operation' | 'store'>
  readonly storeErrors: Counter<'operation' | 'store'>
  readonly redisConnectionErrors: Counter

  constructor (registry: Registry) {
    this.registry = registry
    this.httpDuration = new Histogram({
      name: 'ltilaunch_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status code, and how long they took',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry]
    })
    this.rateLimited = new Counter({
      name: 'ltilaunch_rate_limited_total',
      help: 'requests refused with 429 by a rate limit, by route pattern',
      labelNames: ['route'],
      registers: [registry]
    })
    this.storeDuration = new Histogram({
      name: 'ltilaunch_store_operation_duration_seconds',
      help: 'round trips to the state store (Redis, or the in-process store) by operation',
      labelNames: ['operation', 'store'],
      buckets: STORE_BUCKETS,
      registers: [registry]
    })
    this.storeErrors = new Counter({
      name: 'ltilaunch_store_errors_total',
      help: 'state store operations that failed (Redis away or refusing), by operation',
      labelNames: ['operation', 'store'],
      registers: [registry]
    })
    this.redisConnectionErrors = new Counter({
      name: 'ltilaunch_redis_connection_errors_total',
      help: 'connection errors of the state store\'s Redis client (it reconnects on its own)',
      registers: [registry]
    })
  }

  /** Everything to scrape: the process's series, then this app's. */
  async exposition (): Promise<string> {
    return `${await processMetrics().metrics()}\n${await this.registry.metrics()}`
  }
}

/** The Store methods that reach the backend; each is timed and its failures counted. */
const STORE_OPERATIONS = new Set([
  'put', 'take', 'claim', 'putNew', 'get', 'set', 'delete', 'bind', 'batch', 'mapSet', 'mapGet', 'mapAll', 'mapDelete', 'ping'
])

/**
 * The store, timed: the same object to its callers (`instanceof RedisStore`
 * and its fields still hold), with each operation observed. Methods run on
 * the store itself, so its private fields work.
 */
export function instrumentStore<S extends Store> (store: S, metrics: KitMetrics): S {
  // By the function itself, not its name: a method replaced on the store (a test's stub) is timed as it is now.
  const timed = new WeakMap<object, (...args: unknown[]) => Promise<unknown>>()
  return new Proxy(store, {
    get (target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof property !== 'string' || !STORE_OPERATIONS.has(property) || typeof value !== 'function') return value
      let wrapper = timed.get(value)
      if (wrapper === undefined) {
        const labels = { operation: property, store: target.kind }
        wrapper = async (...args: unknown[]) => {
          const end = metrics.storeDuration.startTimer(labels)
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
          } catch (err) {
            metrics.storeErrors.inc(labels)
            throw err
          } finally {
            end()
          }
        }
        timed.set(value, wrapper)
      }
      return wrapper
    }
  })
}
