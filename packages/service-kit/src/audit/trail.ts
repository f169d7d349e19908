import { pino } from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisClient } from '../store/redis.js'
import { AUDIT_SCHEMA_VERSION, auditEventProblems, type AuditEvent, type AuditInput, type AuditService } from './event.js'

export interface AuditStreamSettings {
  /** The Redis Stream key (one key, so it lives on one Cluster slot). */
  key: string
  /** XADD's MAXLEN ~: about how many events the stream keeps. */
  maxLength: number
  redis: RedisClient
}

export interface AuditTrailOptions {
  service: AuditService
  /** The service's logger; the trail writes through a child of it that LOG_LEVEL does not silence. */
  log: FastifyBaseLogger
  stream?: AuditStreamSettings | undefined
}

/** What a collector or a test may count. */
export interface AuditCounts {
  recorded: number
  /** Events that did not match the schema (a bug: they are written all the same, and logged). */
  invalid: number
  /** Events that could not be added to the stream (they are on stdout all the same). */
  streamFailures: number
}

/**
 * The audit trail of one service: each event is one JSON line on stdout
 * (`audit: true`, the event under `event`) and, where AUDIT_STREAM is set,
 * an entry of a capped Redis Stream. Recording never throws and never waits
 * for Redis: an audit write that fails is logged and counted, and the
 * request it describes goes on.
 */
export class AuditTrail {
  readonly counts: AuditCounts = { recorded: 0, invalid: 0, streamFailures: 0 }
  readonly #service: AuditService
  readonly #log: FastifyBaseLogger
  readonly #stream: AuditStreamSettings | undefined
  readonly #pending = new Set<Promise<void>>()
  #lastStreamWarning = 0

  constructor (options: AuditTrailOptions) {
    this.#service = options.service
    this.#stream = options.stream
    // An audit line is not a debug line: it is written whatever LOG_LEVEL says
    // (unless logging is off altogether).
    this.#log = options.log.child({ audit: true }, { level: 'info' })
    this.#log.level = 'info'
  }

  /** The stream events go to, if any. */
  get streamKey (): string | undefined {
    return this.#stream?.key
  }

  /** Records one outcome; returns the event as written. */
  record (input: AuditInput): AuditEvent {
    const event = this.#envelope(input)
    this.counts.recorded++
    const problems = auditEventProblems(event)
    if (problems.length > 0) {
      this.counts.invalid++
      this.#log.error({ type: input.type, problems: problems.slice(0, 5) }, 'audit event does not match its schema')
    }
    this.#log.info({ event }, 'audit')
    if (this.#stream !== undefined) this.#append(this.#stream, event)
    return event
  }

  /** Resolves when every stream write begun so far has finished (tests, shutdown). */
  async flush (): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
  }

  #envelope (input: AuditInput): AuditEvent {
    // Built field by field, in a fixed order, leaving out what is unknown: nothing a caller adds rides along.
    const event: Record<string, unknown> = {
      schema_version: AUDIT_SCHEMA_VERSION,
      type: input.type,
      time: new Date().toISOString(),
      service: this.#service,
      outcome: input.outcome
    }
    if (input.error_code !== undefined) event.error_code = input.error_code
    if (input.request_id !== undefined) event.request_id = input.request_id
    if (input.trace_id !== undefined) event.trace_id = input.trace_id
    if (input.client_address !== undefined) event.client_address = input.client_address
    const actor = compact(input.actor)
    if (actor !== undefined) event.actor = actor
    const target = compact(input.target)
    if (target !== undefined) event.target = target
    return event as AuditEvent
  }

  #append (stream: AuditStreamSettings, event: AuditEvent): void {
    const write = stream.redis.xadd(stream.key, 'MAXLEN', '~', String(stream.maxLength), '*', 'type', event.type, 'event', JSON.stringify(event))
      .then(() => {}, (err: Error) => {
        this.counts.streamFailures++
        // One warning every few seconds while Redis is away, not one per event.
        const now = Date.now()
        if (now - this.#lastStreamWarning < 5000) return
        this.#lastStreamWarning = now
        this.#log.warn({ stream: stream.key, err: err.message, failures: this.counts.streamFailures }, 'cannot add audit events to the stream (they are on stdout)')
      })
    this.#pending.add(write)
    write.finally(() => this.#pending.delete(write)).catch(() => {})
  }
}

function compact<T extends object> (value: T | undefined): T | undefined {
  if (value === undefined) return undefined
  const kept = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '')) as T
  return Object.keys(kept).length > 0 ? kept : undefined
}

/**
 * The audit trail of a command-line tool that changes what a service trusts
 * (tool-auth's `registrations remove`): audit lines on stderr, whose stdout is
 * the operator's, and the stream where AUDIT_STREAM is set and the store is Redis.
 */
export function commandAuditTrail (options: {
  service: AuditService
  config: { AUDIT_STREAM?: string | undefined, AUDIT_STREAM_MAXLEN?: number | undefined }
  redis?: RedisClient | undefined
}): AuditTrail {
  const log = pino({ base: { service: options.service } }, pino.destination(2)) as unknown as FastifyBaseLogger
  const key = options.config.AUDIT_STREAM
  const stream = key !== undefined && key !== '' && options.redis !== undefined
    ? { key, maxLength: options.config.AUDIT_STREAM_MAXLEN ?? 100000, redis: options.redis }
    : undefined
  return new AuditTrail({ service: options.service, log, stream })
}
