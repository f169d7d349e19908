import { SERVICE_MEDIA_TYPE, SERVICE_SCOPE } from '@ltilaunch/claims'
import type { Store } from '@ltilaunch/service-kit'
import type { Platform } from '../config.js'
import { PlatformServicesOff, PlatformTokenRefused, PlatformUnavailable } from '../errors.js'
import { platformError, type PlatformTokens, type ServiceReply, type TokenRequest } from './platform-token.js'
import { serviceUrlAllowed } from './service-urls.js'

export type ScoreState = 'queued' | 'sent' | 'failed'

/** An AGS Score (the body posted to {lineitem}/scores), less the userId that the target gives. */
export interface ScoreBody {
  scoreGiven: number
  scoreMaximum: number
  activityProgress: string
  gradingProgress: string
  timestamp: string
  comment?: string
}

/** Where a score goes: a person of a course on a platform, and its line item or the assignment's. */
export interface ScoreTarget {
  issuer: string
  clientId: string
  contextId: string
  /** The hub user the score is for, and their sub at the platform. */
  username: string
  sub: string
  /** The line item to post to (the launch's, or the assignment's once found). */
  lineitem?: string
  /** The course's line items, to find or create the assignment's. */
  lineitems?: string
  /** The assignment (the line item's resourceId and tag). */
  assignment?: string
  /** The label of a line item created for the assignment. */
  assignmentLabel?: string
  /** The AGS scopes the platform granted in the course. */
  scope: string[]
}

/** A score accepted by the API: what to send, and how far it got. Kept SCORE_RECORD_TTL seconds. */
export interface ScoreRecord {
  id: string
  /** The hub user who sent it (only they may read its state). */
  owner: string
  state: ScoreState
  attempts: number
  lastError?: string
  /** Epoch ms before which the next attempt does not start. */
  nextAttemptAt: number
  createdAt: string
  updatedAt: string
  sentAt?: string
  target: ScoreTarget
  score: ScoreBody
}

/** The queue's payload: which score to post. */
export interface ScoreJob {
  scoreId: string
}

export const scoreKey = (id: string): string => `score:${id}`

export class ScoreRepository {
  readonly #store: Store
  readonly #ttl: number

  constructor (store: Store, ttlSeconds: number) {
    this.#store = store
    this.#ttl = ttlSeconds
  }

  async get (id: string): Promise<ScoreRecord | undefined> {
    return await this.#store.get<ScoreRecord>(scoreKey(id))
  }

  async save (record: ScoreRecord): Promise<void> {
    record.updatedAt = new Date().toISOString()
    await this.#store.set(scoreKey(record.id), record, this.#ttl)
  }
}

/** A failure worth another attempt later (the platform or the network), with the platform's words. */
export class RetryableScoreError extends Error {}
/** A failure that another attempt would repeat (a refusal), with the platform's words. */
export class PermanentScoreError extends Error {}

/** The AGS scopes a score's token asks for: those the course granted, of the ones posting needs. */
export function scoreTokenScopes (target: ScoreTarget): string[] {
  const wanted: string[] = [SERVICE_SCOPE.score]
  if (target.lineitem === undefined && target.assignment !== undefined) {
    wanted.push(target.scope.includes(SERVICE_SCOPE.lineItem) ? SERVICE_SCOPE.lineItem : SERVICE_SCOPE.lineItemReadOnly)
  }
  return wanted.filter((scope) => target.scope.includes(scope))
}

/** `{lineitem}/scores`, keeping the line item URL's query (Moodle puts the item's type in it). */
export function scoresUrl (lineitem: string): string {
  const url = new URL(lineitem)
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/scores`
  return url.toString()
}

function classify (reply: ServiceReply, what: string): Error {
  const body = typeof reply.body === 'object' && reply.body !== null && !Array.isArray(reply.body) ? reply.body as Record<string, unknown> : undefined
  const message = `${what}: ${platformError(reply.status, body, reply.text)}`
  if (reply.status >= 500 || reply.status === 429 || reply.status === 408) return new RetryableScoreError(message)
  return new PermanentScoreError(message)
}

/**
 * Posts one score: finds (or creates) the assignment's line item first when
 * the record has none, then POSTs the Score. Resolves when the platform took
 * it; throws RetryableScoreError or PermanentScoreError otherwise. A line
 * item found or created is written into the record's target (by the caller's save).
 */
export async function postScore (record: ScoreRecord, platform: Platform, tokens: PlatformTokens, creating: CreationLock = async () => true): Promise<void> {
  const target = record.target
  const request: TokenRequest = { platform, clientId: target.clientId, scopes: scoreTokenScopes(target) }
  try {
    if (target.lineitem === undefined) target.lineitem = await assignmentLineItem(record, platform, tokens, request, creating)
    const reply = await tokens.call(request, scoresUrl(target.lineitem), {
      method: 'POST',
      accept: 'application/json',
      contentType: SERVICE_MEDIA_TYPE.score,
      body: { userId: target.sub, ...record.score }
    })
    if (reply.status < 200 || reply.status >= 300) throw classify(reply, 'the platform refused the score')
  } catch (err) {
    if (err instanceof PlatformUnavailable) throw new RetryableScoreError((err as Error).message)
    if (err instanceof PlatformTokenRefused || err instanceof PlatformServicesOff) throw new PermanentScoreError((err as Error).message)
    throw err
  }
}

interface LineItem {
  id?: unknown
  resourceId?: unknown
  tag?: unknown
}

/**
 * Takes the right to create one course's line item for one assignment for a
 * while (true), or says another worker has it (false): two first scores of
 * an assignment must not make two line items.
 */
export type CreationLock = (key: string) => Promise<boolean>

async function assignmentLineItem (record: ScoreRecord, platform: Platform, tokens: PlatformTokens, request: TokenRequest, creating: CreationLock): Promise<string> {
  const target = record.target
  const assignment = target.assignment
  const lineitems = target.lineitems
  if (assignment === undefined || lineitems === undefined) throw new PermanentScoreError('the launch has no line item, and the score names no assignment')
  const url = new URL(lineitems)
  url.searchParams.set('resource_id', assignment)
  let next: string | undefined = url.toString()
  // Bounded: a course with more pages than this is asked with resource_id, which platforms filter by.
  for (let page = 0; page < 10 && next !== undefined; page++) {
    const reply = await tokens.call(request, next, { method: 'GET', accept: SERVICE_MEDIA_TYPE.lineItemContainer })
    if (reply.status !== 200) throw classify(reply, 'the platform refused to list line items')
    const items = Array.isArray(reply.body) ? reply.body as LineItem[] : []
    const found = items.find((item) => item.resourceId === assignment && typeof item.id === 'string')
    if (found !== undefined) return checkedLineItem(found.id, platform)
    next = nextLink(reply.headers.get('link'))
    if (next !== undefined && !serviceUrlAllowed(next, platform)) next = undefined
  }
  if (!target.scope.includes(SERVICE_SCOPE.lineItem)) {
    throw new PermanentScoreError(`the course has no line item for the assignment "${assignment}", and the platform did not grant the tool the scope to create one`)
  }
  const lock = `${target.issuer}\n${target.contextId}\n${assignment}`
  if (!(await creating(lock))) throw new RetryableScoreError(`another score is creating the line item of the assignment "${assignment}"; this one follows it`)
  const created = await tokens.call(request, lineitems, {
    method: 'POST',
    accept: SERVICE_MEDIA_TYPE.lineItem,
    contentType: SERVICE_MEDIA_TYPE.lineItem,
    body: { scoreMaximum: record.score.scoreMaximum, label: target.assignmentLabel ?? assignment, resourceId: assignment, tag: assignment }
  })
  if (created.status !== 200 && created.status !== 201) throw classify(created, 'the platform refused to create the assignment\'s line item')
  return checkedLineItem((created.body as LineItem | undefined)?.id, platform)
}

function checkedLineItem (id: unknown, platform: Platform): string {
  if (!serviceUrlAllowed(id, platform)) throw new PermanentScoreError('the platform named a line item URL that is not on one of its hosts')
  return id
}

/** The rel="next" URL of a Link header, if any. */
function nextLink (header: string | null): string | undefined {
  if (header === null) return undefined
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part)
    if (match) return match[1]
  }
  return undefined
}

/** The delay before attempt n+1 after n failed ones: base·2^(n-1), at most max. */
export function retryDelay (attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1))
}
