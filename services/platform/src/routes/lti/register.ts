import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isServiceScope } from '@ltilaunch/claims'
import { Type, type Static } from 'typebox'
import { RegistrationInvalid, RegistrationTokenInvalid } from '../../errors.js'
import { REGISTERED_TOOLS_MAP, registrationOf, type StoredTool } from '../../lib/registrations.js'

export const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration'
/** A one-time registration token an admin's "register by URL" made: `regtoken:<token>`. */
export const REGISTRATION_TOKEN_PREFIX = 'regtoken:'

/** What a registration token stands for. */
export interface RegistrationTicket {
  /** The admin who started the registration. */
  admin: string
  createdAt: number
}

const Message = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 200 }),
  target_link_uri: Type.Optional(Type.String({ maxLength: 2048 })),
  label: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: true })

const DEEP_LINKING = 'LtiDeepLinkingRequest'

/** Where the tool takes deep linking requests: its message's own target, else the tool's (LTI-DR 3.3). */
function deepLinkingUrlOf (tool: { target_link_uri?: string, messages?: Array<{ type: string, target_link_uri?: string }> }): { deep_linking_url?: string } {
  const message = tool.messages?.find((candidate) => candidate.type === DEEP_LINKING)
  if (message === undefined) return {}
  const url = message.target_link_uri ?? tool.target_link_uri
  return url === undefined ? {} : { deep_linking_url: url }
}

/**
 * A tool's registration request (LTI-DR 3.3, on OpenID Connect Dynamic
 * Client Registration). Loose here, so that each problem gets its own
 * message below; unknown members pass, as the spec asks.
 */
const RegistrationRequestSchema = Type.Object({
  application_type: Type.Optional(Type.String()),
  grant_types: Type.Optional(Type.Array(Type.String())),
  response_types: Type.Optional(Type.Array(Type.String())),
  initiate_login_uri: Type.Optional(Type.String({ maxLength: 2048 })),
  redirect_uris: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 20 })),
  client_name: Type.Optional(Type.String({ maxLength: 200 })),
  jwks_uri: Type.Optional(Type.String({ maxLength: 2048 })),
  token_endpoint_auth_method: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String({ maxLength: 4096 })),
  [TOOL_CONFIGURATION]: Type.Optional(Type.Object({
    domain: Type.Optional(Type.String({ maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    target_link_uri: Type.Optional(Type.String({ maxLength: 2048 })),
    custom_parameters: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 8192 }))),
    claims: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 100 })),
    messages: Type.Optional(Type.Array(Message, { maxItems: 20 }))
  }, { additionalProperties: true }))
}, { additionalProperties: true })
type RegistrationRequest = Static<typeof RegistrationRequestSchema>

const HTTP_URL = /^https?:\/\/[^\s#]+$/
const CUSTOM_NAME = /^[A-Za-z0-9_.-]+$/

function bearer (header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return match?.[1]
}

/** The checks the file's registrations get, said as the tool will need to hear them. */
function problemOf (body: RegistrationRequest): string | undefined {
  const tool = body[TOOL_CONFIGURATION]
  if (body.application_type !== undefined && body.application_type !== 'web') return 'application_type must be "web"'
  if (!(body.grant_types ?? []).includes('implicit')) return 'grant_types must include "implicit" (the LTI launch)'
  if (!(body.response_types ?? []).includes('id_token')) return 'response_types must include "id_token"'
  if (body.token_endpoint_auth_method !== undefined && body.token_endpoint_auth_method !== 'private_key_jwt') return 'token_endpoint_auth_method must be "private_key_jwt"'
  if (body.initiate_login_uri === undefined || !HTTP_URL.test(body.initiate_login_uri)) return 'initiate_login_uri must be an http(s) URL'
  if (body.redirect_uris === undefined || body.redirect_uris.length === 0 || !body.redirect_uris.every((uri) => HTTP_URL.test(uri))) return 'redirect_uris must list http(s) URLs'
  if (body.jwks_uri === undefined || !HTTP_URL.test(body.jwks_uri)) return 'jwks_uri must be an http(s) URL (the platform verifies the tool\'s messages with it)'
  if (tool === undefined) return `${TOOL_CONFIGURATION} is missing`
  if (tool.target_link_uri === undefined || !HTTP_URL.test(tool.target_link_uri)) return 'the tool configuration\'s target_link_uri must be an http(s) URL'
  for (const name of Object.keys(tool.custom_parameters ?? {})) {
    if (!CUSTOM_NAME.test(name)) return `the custom parameter name "${name}" may only have letters, digits, "_", "." and "-"`
  }
  for (const message of tool.messages ?? []) {
    if (message.target_link_uri !== undefined && !HTTP_URL.test(message.target_link_uri)) return `the ${message.type} message's target_link_uri must be an http(s) URL`
  }
  return undefined
}

/**
 * LTI Dynamic Registration, the platform's side: the registration endpoint
 * named in the OpenID configuration. A tool POSTs its registration with the
 * one-time registration token an admin's "register by URL" gave it; the
 * platform assigns a client_id and a deployment id and keeps the tool in the
 * store, beside the registrations file.
 */
const registerRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store } = fastify

  fastify.post('/lti/register', {
    config: { audit: 'platform.registration.added' },
    schema: { body: RegistrationRequestSchema }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const token = bearer(request.headers.authorization)
    if (token === undefined) throw new RegistrationTokenInvalid()
    const body = request.body
    // Checked before the token is spent, so a tool can correct a mistake with the same token.
    const problem = problemOf(body)
    if (problem !== undefined) throw new RegistrationInvalid(problem)
    const ticket = await store.take<RegistrationTicket>(`${REGISTRATION_TOKEN_PREFIX}${token}`)
    if (ticket === undefined) throw new RegistrationTokenInvalid()

    const tool = body[TOOL_CONFIGURATION] as NonNullable<RegistrationRequest[typeof TOOL_CONFIGURATION]>
    // The services asked for (LTI-DR 3.3 `scope`) that this platform offers; others are not granted.
    const scopes = [...new Set((body.scope ?? '').split(/\s+/).filter(isServiceScope))]
    const clientId = randomUUID()
    const deploymentId = randomBytes(9).toString('base64url')
    const stored: StoredTool = {
      tool: {
        client_id: clientId,
        name: body.client_name !== undefined && body.client_name.trim() !== '' ? body.client_name.trim() : (tool.domain ?? new URL(tool.target_link_uri as string).host),
        ...(tool.description !== undefined && tool.description !== '' ? { description: tool.description } : {}),
        deployment_ids: [deploymentId],
        initiate_login_uri: body.initiate_login_uri as string,
        target_link_uri: tool.target_link_uri as string,
        redirect_uris: body.redirect_uris as string[],
        jwks_uri: body.jwks_uri as string,
        custom: tool.custom_parameters ?? {},
        scopes,
        // A tool that takes deep linking requests gets "Add a notebook link" on course pages.
        ...deepLinkingUrlOf(tool)
      },
      messages: tool.messages ?? [],
      registered_at: new Date().toISOString(),
      registered_by: ticket.admin
    }
    try {
      registrationOf(stored)
    } catch (err) {
      throw new RegistrationInvalid((err as Error).message)
    }
    await store.mapSet(REGISTERED_TOOLS_MAP, clientId, stored)
    request.log.info({ clientId, name: stored.tool.name, admin: ticket.admin }, 'tool registered by URL')
    request.audit({ type: 'platform.registration.added', outcome: 'success', actor: { username: ticket.admin }, target: { client_id: clientId, deployment_id: deploymentId, tool: new URL(stored.tool.target_link_uri).origin } })
    // The answer is the registration as accepted (LTI-DR 3.6), with the service scopes granted.
    return await reply.code(200).send({
      client_id: clientId,
      application_type: 'web',
      grant_types: body.grant_types,
      response_types: ['id_token'],
      initiate_login_uri: body.initiate_login_uri,
      redirect_uris: body.redirect_uris,
      client_name: stored.tool.name,
      jwks_uri: body.jwks_uri,
      token_endpoint_auth_method: 'private_key_jwt',
      scope: scopes.join(' '),
      [TOOL_CONFIGURATION]: { ...tool, deployment_id: deploymentId }
    })
  })
}

export default registerRoutes
