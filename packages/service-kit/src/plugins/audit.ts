import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError } from '../config.js'
import type { AuditActor, AuditEventType, AuditInput, AuditService, AuditTarget } from '../audit/event.js'
import { AuditTrail } from '../audit/trail.js'
import { RedisStore } from '../store/index.js'
import { errorCodeOf } from './errors.js'

/** What a route says about its outcome: the envelope's request fields are filled in. */
export type RequestAuditInput = Omit<AuditInput, 'request_id' | 'client_address' | 'trace_id'>

/** The people and things a route has learned about so far, for the event of its outcome. */
export interface AuditFacts {
  actor?: AuditActor
  target?: AuditTarget
}

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditTrail
  }
  interface FastifyRequest {
    /** Records this request's outcome, with its request id, client address and trace id. */
    audit: (input: RequestAuditInput) => void
    /** Notes who and what this request is about, for the event recorded when it ends. */
    auditFacts: (facts: AuditFacts) => void
  }
  interface FastifyContextConfig {
    /**
     * The event type of this route's outcome. A reply of 400 or more that no
     * `request.audit` of this type described is recorded as a failure, with
     * the reply's error code and the facts noted so far: every refusal path
     * is covered without a line at each throw.
     */
    audit?: AuditEventType
  }
}

export interface AuditPluginOptions {
  service: AuditService
  /** AUDIT_STREAM: the Redis Stream key; unset, events go to stdout only. */
  stream?: string | undefined
  /** AUDIT_STREAM_MAXLEN. */
  streamMaxLength?: number | undefined
  /** The trace id of a request (the tracing setup's); by default the one its traceparent header carries. */
  traceId?: (request: FastifyRequest) => string | undefined
}

interface RequestAuditState {
  facts: AuditFacts
  recorded: Set<AuditEventType>
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/

/** The trace id a W3C traceparent header carries (not the all-zero one, which is invalid). */
export function traceIdFromHeader (request: FastifyRequest): string | undefined {
  const header = request.headers.traceparent
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim()) : null
  const id = match?.[1]
  return id === undefined || /^0+$/.test(id) ? undefined : id
}

/** `fastify.audit`, `request.audit` and `request.auditFacts`, and the failure event of routes with `config.audit`. */
export default fp<AuditPluginOptions>(async function auditPlugin (fastify, options) {
  let stream
  if (options.stream !== undefined && options.stream !== '') {
    const store = fastify.store
    if (!(store instanceof RedisStore)) {
      throw new ConfigError(['AUDIT_STREAM needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)'])
    }
    stream = { key: options.stream, maxLength: options.streamMaxLength ?? 100000, redis: store.redis }
  }
  const trail = new AuditTrail({ service: options.service, log: fastify.log, stream })
  fastify.decorate('audit', trail)
  const traceId = options.traceId ?? traceIdFromHeader

  const states = new WeakMap<FastifyRequest, RequestAuditState>()
  const stateOf = (request: FastifyRequest): RequestAuditState => {
    let state = states.get(request)
    if (state === undefined) {
      state = { facts: {}, recorded: new Set() }
      states.set(request, state)
    }
    return state
  }

  fastify.decorateRequest('audit', function (this: FastifyRequest, input: RequestAuditInput) {
    const state = stateOf(this)
    state.recorded.add(input.type)
    trail.record({
      ...input,
      actor: input.actor ?? state.facts.actor,
      target: input.target ?? state.facts.target,
      request_id: String(this.id),
      client_address: this.ip,
      trace_id: traceId(this)
    })
  })
  fastify.decorateRequest('auditFacts', function (this: FastifyRequest, facts: AuditFacts) {
    const known = stateOf(this).facts
    if (facts.actor !== undefined) known.actor = { ...known.actor, ...facts.actor }
    if (facts.target !== undefined) known.target = { ...known.target, ...facts.target }
  })

  fastify.addHook('onResponse', async (request, reply) => {
    const type = request.routeOptions.config?.audit
    if (type === undefined || reply.statusCode < 400) return
    if (states.get(request)?.recorded.has(type) === true) return
    request.audit({ type, outcome: 'failure', error_code: errorCodeOf(reply) ?? `HTTP_${reply.statusCode}` })
  })

  fastify.addHook('onClose', async () => {
    await trail.flush()
  })
}, { name: 'ltilaunch-audit', fastify: '5.x', dependencies: ['ltilaunch-store', 'ltilaunch-errors'] })
