import { maskedPathLogSerializers } from '@ltilaunch/service-kit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CrossSiteRequest, LaunchNotFound } from '../../errors.js'
import { retryLaunch, retryToken, retryTokenValid } from '../../launches/retry.js'
import { TERMINAL, type StoredLaunch } from '../../launches/records.js'
import { publicBase, publicPath } from '../../public-url.js'
import { dryRunPage, failedPage, progressPage } from '../../views/progress-page.js'
import { LaunchIdParams } from '../v1/launches.js'

// The launch id in these paths is what lets a browser see the launch: keep it out of the log.
const launchLogSerializers = maskedPathLogSerializers(/^\/launches\/[^/]+/, '/launches/[id]')

const KEEPALIVE_MS = 15_000

/**
 * The browser's side of a launch: the progress page (its unguessable id is
 * the capability), its event stream, and "try again" after a failure.
 */
const launchPages: FastifyPluginAsyncTypebox = async (fastify) => {
  const config = fastify.config
  const base = publicPath(config)
  // Open event streams end when the server closes, so that they do not hold the shutdown.
  const shutdown = { closing: false }
  fastify.addHook('preClose', async () => { shutdown.closing = true })

  async function find (id: string): Promise<StoredLaunch> {
    const launch = await fastify.launches.get(id)
    if (!launch) throw new LaunchNotFound()
    return launch
  }

  fastify.get('/launches/:id', {
    logSerializers: launchLogSerializers,
    schema: { params: LaunchIdParams }
  }, async (request, reply) => {
    const launch = await find(request.params.id)
    reply.header('cache-control', 'no-store')
    if (launch.status === 'ready' && launch.redirectUrl) return await reply.redirect(launch.redirectUrl, 303)
    const options = { launch, base, retryToken: retryToken(config.BROKER_SERVICE_TOKEN, launch), refreshSeconds: 2 }
    const body = launch.status === 'ready'
      ? dryRunPage(options)
      : launch.status === 'failed' ? failedPage(options) : progressPage(options)
    return await reply.type('text/html; charset=utf-8').send(body)
  })

  fastify.get('/launches/:id/events', {
    logSerializers: launchLogSerializers,
    schema: { params: LaunchIdParams }
  }, async (request, reply) => {
    // Read once before the stream opens, so an unknown launch or a down store is a plain error.
    let launch = await find(request.params.id)
    reply.hijack()
    const out = reply.raw
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      // One stream per connection: when it ends the socket goes, and a closing server is not held open.
      connection: 'close'
    })
    const state = { closed: false }
    request.raw.on('close', () => { state.closed = true })
    const send = (event: string, data: unknown): void => {
      out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const update = (l: StoredLaunch): void => send('update', {
      status: l.status,
      progress: l.progress,
      ...(l.reason ? { reason: l.reason } : {}),
      ...(l.status === 'ready' && l.redirectUrl ? { redirectUrl: l.redirectUrl } : {})
    })
    // Two writes can share a millisecond, and a full progress list keeps its
    // length, so updatedAt alone would miss the last one (the stream would end
    // at `ready` without saying so): every save raises the revision.
    const version = (l: StoredLaunch): string => `${l.attempt}|${l.revision ?? 0}|${l.updatedAt}|${l.status}|${l.progress.length}`
    update(launch)
    let seen = version(launch)
    let lastWrite = Date.now()
    // Bounded: an EventSource reconnects by itself after the stream ends.
    const until = Date.now() + config.SPAWN_TIMEOUT * 1000 + 60_000
    while (!state.closed && !shutdown.closing && !TERMINAL.has(launch.status) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, config.PROGRESS_POLL_MS))
      let next: StoredLaunch | undefined
      try {
        next = await fastify.launches.get(launch.id)
      } catch {
        continue // the store is away for a moment; keep the stream open
      }
      if (!next) {
        send('gone', {})
        break
      }
      launch = next
      if (version(launch) !== seen) {
        seen = version(launch)
        update(launch)
        lastWrite = Date.now()
      } else if (Date.now() - lastWrite > KEEPALIVE_MS) {
        out.write(': keepalive\n\n')
        lastWrite = Date.now()
      }
    }
    out.end()
  })

  fastify.post('/launches/:id/retry', {
    logSerializers: launchLogSerializers,
    schema: {
      params: LaunchIdParams,
      body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) })
    }
  }, async (request, reply) => {
    assertSameOrigin(request, publicBase(config, request))
    const launch = await find(request.params.id)
    if (!retryTokenValid(config.BROKER_SERVICE_TOKEN, launch, request.body.token)) {
      // A stale form (this attempt was already retried) just shows the launch as it is.
      if (launch.status !== 'failed') return await reply.redirect(`${base}/launches/${launch.id}`, 303)
      throw new CrossSiteRequest()
    }
    await retryLaunch(fastify, launch)
    return await reply.redirect(`${base}/launches/${launch.id}`, 303)
  })
}

/** A form post must come from our own pages: Origin (when sent) is ours, and the fetch is not cross-site. */
function assertSameOrigin (request: FastifyRequest, ownBase: string): void {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new CrossSiteRequest()
  const origin = request.headers.origin
  if (origin !== undefined && origin !== new URL(ownBase).origin) throw new CrossSiteRequest()
}

export default launchPages
