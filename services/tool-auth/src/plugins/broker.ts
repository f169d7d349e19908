import type { PendingLaunchRequest, RosterReply, RosterRequest } from '@ltilaunch/claims'
import { JsonClient, type JsonReply } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import { BrokerRefused, BrokerUnavailable, ImageRefused, RosterBrokerRefused, RosterBrokerUnavailable } from '../errors.js'

/** The broker's reply to POST /v1/launches (201 new, 200 same idempotency key). */
export interface BrokerLaunch {
  id: string
  status: string
  image: string
  serverName: string
  progressUrl: string
  statusUrl: string
}

/** One allowed image of the broker's policy (GET /v1/images). */
export interface BrokerImage {
  /** What a link's `image` custom parameter carries (the alias, or the image). */
  reference: string
  image: string
  name: string
  description?: string
  staffOnly: boolean
}

export interface Broker {
  /** Whether a broker is configured; without one, launches only sign the user in. */
  readonly configured: boolean
  /**
   * Hands a launch to the broker. Throws TOOL_AUTH_IMAGE_REFUSED (422, with
   * the broker's reason), TOOL_AUTH_BROKER_UNAVAILABLE (503: unreachable,
   * timed out or 5xx) or TOOL_AUTH_BROKER_REFUSED (502: our request or
   * credentials were refused, a configuration problem).
   */
  createLaunch: (launch: PendingLaunchRequest, idempotencyKey: string) => Promise<BrokerLaunch>
  /**
   * The images the broker's policy allows, for the deep linking picker.
   * Throws TOOL_AUTH_BROKER_UNAVAILABLE (503) or TOOL_AUTH_BROKER_REFUSED (502).
   */
  listImages: () => Promise<BrokerImage[]>
  /**
   * Hands a course roster to the broker (POST /v1/rosters, idempotent), with
   * ROSTER_BROKER_TIMEOUT_MS. Throws TOOL_AUTH_ROSTER_BROKER_UNAVAILABLE
   * (503) or TOOL_AUTH_ROSTER_BROKER_REFUSED (502), with the broker's code.
   */
  applyRoster: (roster: RosterRequest) => Promise<RosterReply>
}

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker
  }
}

const RETRY_DELAY_MS = 250

/** A reply we can send a browser on with: an id and an http(s) progress page. */
function isLaunch (value: unknown): value is BrokerLaunch {
  const v = value as Record<string, unknown> | null
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.progressUrl === 'string' && /^https?:\/\//.test(v.progressUrl)
}

export default fp(async function brokerPlugin (fastify) {
  const { BROKER_URL, BROKER_SERVICE_TOKEN, BROKER_TIMEOUT_MS } = fastify.config
  const client = BROKER_URL === undefined
    ? undefined
    : new JsonClient(BROKER_URL, { timeoutMs: BROKER_TIMEOUT_MS, headers: { authorization: `Bearer ${BROKER_SERVICE_TOKEN ?? ''}` } })
  // Rosters get their own sockets and a longer limit: a large course is many hub requests.
  const rosterClient = BROKER_URL === undefined
    ? undefined
    : new JsonClient(BROKER_URL, { timeoutMs: fastify.config.ROSTER_BROKER_TIMEOUT_MS, maxSockets: 4, headers: { authorization: `Bearer ${BROKER_SERVICE_TOKEN ?? ''}` } })
  fastify.addHook('onClose', async () => {
    client?.close()
    rosterClient?.close()
  })

  /** One POST; undefined when the broker could not be reached or timed out. */
  async function post (launch: PendingLaunchRequest, idempotencyKey: string): Promise<JsonReply | undefined> {
    try {
      return await client?.request('POST', 'v1/launches', { body: launch, headers: { 'idempotency-key': idempotencyKey } })
    } catch (err) {
      fastify.log.warn({ reason: (err as Error).message }, 'broker unreachable')
      return undefined
    }
  }

  const transient = (response: JsonReply | undefined): boolean =>
    response === undefined || response.status === 502 || response.status === 503 || response.status === 504

  async function createLaunch (launch: PendingLaunchRequest, idempotencyKey: string): Promise<BrokerLaunch> {
    if (client === undefined) throw new Error('no broker is configured')
    // One retry for a blip, with the same Idempotency-Key: if the first call
    // did reach the broker, the retry gets that same launch back (200), not a second one.
    let response = await post(launch, idempotencyKey)
    if (transient(response)) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS))
      response = await post(launch, idempotencyKey)
    }
    if (response === undefined) throw new BrokerUnavailable()
    // A reply without a JSON object is judged by its status alone.
    const body = typeof response.body === 'object' && response.body !== null ? response.body as Record<string, unknown> : {}
    if ((response.status === 200 || response.status === 201) && isLaunch(body)) return body
    if (response.status === 422) {
      throw new ImageRefused(typeof body.message === 'string' ? body.message : 'the broker\'s image policy does not allow it.')
    }
    if (response.status >= 500 || response.status === 429) {
      fastify.log.warn({ status: response.status, code: body.code }, 'broker answered with an error')
      throw new BrokerUnavailable()
    }
    fastify.log.error({ status: response.status, code: body.code, reason: body.message }, 'broker refused the launch')
    throw new BrokerRefused(`${response.status} ${typeof body.code === 'string' ? body.code : ''}`.trim())
  }

  const isImage = (value: unknown): value is BrokerImage => {
    const v = value as Record<string, unknown> | null
    return typeof v === 'object' && v !== null && typeof v.reference === 'string' && v.reference !== '' &&
      typeof v.image === 'string' && typeof v.name === 'string' && (v.description === undefined || typeof v.description === 'string')
  }

  async function listImages (): Promise<BrokerImage[]> {
    if (client === undefined) throw new Error('no broker is configured')
    let response: JsonReply
    try {
      response = await client.request('GET', 'v1/images')
    } catch (err) {
      fastify.log.warn({ reason: (err as Error).message }, 'broker unreachable')
      throw new BrokerUnavailable()
    }
    const body = typeof response.body === 'object' && response.body !== null ? response.body as Record<string, unknown> : {}
    if (response.status === 200 && Array.isArray(body.images)) {
      return body.images.filter(isImage).map((image) => ({
        reference: image.reference,
        image: image.image,
        name: image.name,
        ...(image.description === undefined ? {} : { description: image.description }),
        staffOnly: image.staffOnly === true
      }))
    }
    if (response.status >= 500 || response.status === 429) throw new BrokerUnavailable()
    fastify.log.error({ status: response.status, code: body.code }, 'broker refused the image list')
    throw new BrokerRefused(`${response.status} ${typeof body.code === 'string' ? body.code : ''}`.trim())
  }

  async function applyRoster (roster: RosterRequest): Promise<RosterReply> {
    if (rosterClient === undefined) throw new Error('no broker is configured')
    let response: JsonReply
    try {
      response = await rosterClient.request('POST', 'v1/rosters', { body: roster })
    } catch (err) {
      throw new RosterBrokerUnavailable((err as Error).message)
    }
    const body = typeof response.body === 'object' && response.body !== null ? response.body as Record<string, unknown> : {}
    if (response.status === 200 && typeof body.group === 'string') return body as unknown as RosterReply
    const reason = `${response.status} ${typeof body.code === 'string' ? body.code : ''}`.trim()
    if (response.status >= 500 || response.status === 429) throw new RosterBrokerUnavailable(reason)
    throw new RosterBrokerRefused(reason)
  }

  fastify.decorate('broker', { configured: client !== undefined, createLaunch, listImages, applyRoster })
}, { name: 'tool-auth-broker' })
