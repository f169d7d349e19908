import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import { Type } from 'typebox'
import { html, page } from '../html.js'

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

const GENERIC_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  409: 'CONFLICT',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED'
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

  fastify.setErrorHandler(async function (error: HintedError, request, reply) {
    let statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    let code: string
    let message = error.message
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
    } else {
      code = `${prefix}_${GENERIC_CODES[statusCode] ?? (statusCode >= 500 ? 'INTERNAL' : 'BAD_REQUEST')}`
    }

    if (statusCode >= 500) {
      request.log.error({ err: error }, 'request failed')
      if (statusCode === 503) {
        reply.header('retry-after', reply.getHeader('retry-after') ?? '5')
      } else {
        message = `Something went wrong on our side. Try again; if it keeps happening, tell the administrator (request ${request.id}).`
      }
    } else {
      request.log.info({ code, reason: error.message }, 'request refused')
    }
    return await send(request, reply, { statusCode, code, message, hint: error.hint })
  })

  fastify.setNotFoundHandler(async function (request, reply) {
    return await send(request, reply, {
      statusCode: 404,
      code: `${prefix}_NOT_FOUND`,
      message: `There is nothing at ${request.method} ${request.url.split('?')[0]}.`
    })
  })
}, { name: 'ltilaunch-errors', fastify: '5.x' })

interface ErrorReply {
  statusCode: number
  code: string
  message: string
  hint?: string | undefined
}

async function send (request: FastifyRequest, reply: FastifyReply, body: ErrorReply): Promise<FastifyReply> {
  const error = STATUS_CODES[body.statusCode] ?? 'Error'
  reply.code(body.statusCode)
  if (wantsHtml(request)) {
    return await reply.type('text/html; charset=utf-8').send(errorPage({ ...body, error }))
  }
  const json: Record<string, unknown> = { statusCode: body.statusCode, code: body.code, error, message: body.message }
  if (body.hint) json.hint = body.hint
  return await reply.type('application/json; charset=utf-8').send(json)
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
