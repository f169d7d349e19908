import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import { Type } from 'typebox'
import { html, page } from '../html.js'
import { maskCapabilityPath } from '../logger.js'

export interface ErrorsPluginOptions {
  /** The stable prefix of this service's error codes, such as TOOL_AUTH. */
  prefix: string
}

/** The JSON body of every error reply, for routes' response schemas. */
export const ErrorReplySchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable, prefixed by the service' }),
  error: Type.String(),
  message: Type.String(),
  hint: Type.Optional(Type.String())
})

/** An error that may carry advice for the person who sees it. */
export interface HintedError extends FastifyError {
  hint?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The prefix of this service's error codes (TOOL_AUTH), for replies made outside the error handler. */
    errorCodePrefix: string
    /** Answers an error that Fastify's router raised outside any route, as the error handler would. */
    replyToFrameworkError: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void
  }
}

const GENERIC_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE'
}

/** The stable code of a status that no service error names, such as TOOL_AUTH_BODY_TOO_LARGE. */
export function genericErrorCode (prefix: string, statusCode: number): string {
  return `${prefix}_${GENERIC_CODES[statusCode] ?? (statusCode >= 500 ? 'INTERNAL' : 'BAD_REQUEST')}`
}

/** The JSON error body, serialized here rather than by a route's response schema (see `send`). */
export function errorReplyJson (body: ErrorReply): string {
  const json: Record<string, unknown> = { statusCode: body.statusCode, code: body.code, error: STATUS_CODES[body.statusCode] ?? 'Error', message: body.message }
  if (body.hint) json.hint = body.hint
  return JSON.stringify(json)
}

const sentCodes = new WeakMap<FastifyRequest, string>()

/** The stable code of the error a reply carried, if the error handler made it or a route noted it (metrics, the audit trail). */
export function errorCodeOf (reply: FastifyReply): string | undefined {
  return sentCodes.get(reply.request)
}

/** Notes the code of a refusal that a route answers itself (its own page), as the error handler does. */
export function noteErrorCode (reply: FastifyReply, code: string): void {
  sentCodes.set(reply.request, code)
}

/** Whether the client is a browser that should see a page rather than JSON. */
export function wantsHtml (request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? ''
  return accept.includes('text/html')
}

/**
 * The service's one error handler. 4xx replies say what went wrong with a
 * stable `<PREFIX>_...` code; 5xx replies hide internals (the log has them);
 * a store that is down is a 503 with Retry-After. Browsers get a page.
 */
export default fp<ErrorsPluginOptions>(async function errorsPlugin (fastify, options) {
  const prefix = options.prefix
  if (!fastify.hasDecorator('errorCodePrefix')) fastify.decorate('errorCodePrefix', prefix)

  fastify.setErrorHandler(async function (error: HintedError, request, reply) {
    return await send(request, reply, classify(error, prefix, request, reply))
  })

  // Errors the router answers before a route's context exists (a bad URL, a
  // parameter too long: 414) run no hooks; createServer hands them here.
  if (!fastify.hasDecorator('replyToFrameworkError')) {
    fastify.decorate('replyToFrameworkError', function (error: HintedError, request: FastifyRequest, reply: FastifyReply) {
      const body = classify(error, prefix, request, reply)
      const payload = render(request, reply, body)
      if (fastify.hasDecorator('applySecurityHeaders')) fastify.applySecurityHeaders(reply, payload)
      reply.send(payload)
    })
  }

  // The paths each method answers, so that a known path asked with another
  // method is a 405 naming the methods it takes, not a 404.
  const routes: Array<{ method: string, path: RegExp }> = []
  fastify.addHook('onRoute', (route) => {
    const path = new RegExp(`^${route.url.split(/(:[A-Za-z0-9_]+|\*)/).map((part) =>
      part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('')}/?$`)
    for (const method of [route.method].flat()) routes.push({ method, path })
  })

  fastify.setNotFoundHandler(async function (request, reply) {
    const path = request.url.split('?')[0] ?? ''
    const allowed = [...new Set(routes.filter((route) => route.path.test(path)).map((route) => route.method))]
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '))
      return await send(request, reply, {
        statusCode: 405,
        code: `${prefix}_METHOD_NOT_ALLOWED`,
        message: `${path} takes ${allowed.join(', ')}, not ${request.method}.`
      })
    }
    return await send(request, reply, {
      statusCode: 404,
      code: `${prefix}_NOT_FOUND`,
      message: `There is nothing at ${request.method} ${request.url.split('?')[0]}.`
    })
  })
}, { name: 'ltilaunch-errors', fastify: '5.x' })

export interface ErrorReply {
  statusCode: number
  code: string
  message: string
  hint?: string | undefined
}

// What Fastify's own refusals say, in words a person can act on.
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'This service does not read a body of that Content-Type; send JSON (application/json) or a form (application/x-www-form-urlencoded).',
  FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is larger than this service accepts; send a smaller one.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The body is not as long as its Content-Length says; send it again in full.',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The body is empty but its Content-Type says JSON; send a JSON body or no Content-Type.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The body is not valid JSON; send valid UTF-8 JSON.',
  FST_ERR_MAX_PARAM_LENGTH: 'A part of the URL is too long; check the link you followed.',
  FST_ERR_BAD_URL: 'The URL is not valid (a bad percent-escape?); check the link you followed.'
}

/** The status, stable code and message of an error, and its log line. */
function classify (error: HintedError, prefix: string, request: FastifyRequest, reply: FastifyReply): ErrorReply {
  let statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
  let code: string
  let message = FRAMEWORK_MESSAGES[error.code] ?? error.message
  if (error.validation) {
    statusCode = 400
    code = `${prefix}_INVALID_REQUEST`
    message = `The request is not valid: ${error.message}.`
  } else if (error.code === 'LTILAUNCH_STORE_UNAVAILABLE') {
    statusCode = 503
    code = `${prefix}_STORE_UNAVAILABLE`
    message = 'The service cannot reach its state store right now. Try again in a few seconds.'
  } else if (typeof error.code === 'string' && error.code.startsWith(`${prefix}_`)) {
    code = error.code
  } else if (typeof error.code === 'string' && error.code.startsWith('LTILAUNCH_') && statusCode < 500) {
    // A refusal of the kit's own, under this service's prefix.
    code = `${prefix}_${error.code.slice('LTILAUNCH_'.length)}`
  } else {
    code = genericErrorCode(prefix, statusCode)
  }

  if (statusCode >= 500) {
    request.log.error({ err: error }, 'request failed')
    if (statusCode === 503) {
      reply.header('retry-after', reply.getHeader('retry-after') ?? '5')
    } else {
      message = `Something went wrong on our side. Try again; if it keeps happening, tell the administrator (request ${request.id}).`
    }
  } else {
    // Router errors quote the URL, which may hold a launch id.
    request.log.info({ code, reason: maskCapabilityPath(error.message) }, 'request refused')
  }
  sentCodes.set(request, code)
  return { statusCode, code, message, hint: error.hint }
}

/** Sets the status and type of an error reply and returns its body: a page for a browser, JSON otherwise. */
function render (request: FastifyRequest, reply: FastifyReply, body: ErrorReply): string {
  reply.code(body.statusCode)
  sentCodes.set(request, body.code)
  if (wantsHtml(request)) {
    reply.type('text/html; charset=utf-8')
    return errorPage({ ...body, error: STATUS_CODES[body.statusCode] ?? 'Error' })
  }
  // A string, not an object: a route's response schema for this status (an
  // OAuth error, say) describes the route's own replies, and serializing the
  // kit's body against it fails, turning a 4xx into a 500.
  reply.type('application/json; charset=utf-8')
  return errorReplyJson(body)
}

async function send (request: FastifyRequest, reply: FastifyReply, body: ErrorReply): Promise<FastifyReply> {
  return await reply.send(render(request, reply, body))
}

/** The page a person sees for an error: what happened, what to try, and a code for support. */
export function errorPage (body: ErrorReply & { error: string }): string {
  return page({
    title: body.error,
    body: html`<h1>${body.error}</h1>
<p>${body.message}</p>
${body.hint ? html`<p class="hint">${body.hint}</p>` : ''}
<p class="code">Error code: ${body.code}</p>`
  })
}
