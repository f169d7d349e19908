/**
 * Tool registrations: what the platform knows of each tool it launches. The
 * field names follow the LTI 1.3 / OIDC registration vocabulary
 * (`client_id`, `initiate_login_uri`, `target_link_uri`, `redirect_uris`,
 * `jwks_uri`), so a tool's own config page can be copied in directly.
 */
import { Type, type Static } from 'typebox'
import { CUSTOM_KEY_MAX_LENGTH, CUSTOM_MAX_PARAMS, CUSTOM_VALUE_MAX_LENGTH, customClaimProblem, isServiceScope, SERVICE_SCOPES, type ServiceScope } from '@ltilaunch/claims'
import { parseDocument } from '@ltilaunch/service-kit'

const Url = Type.String({ pattern: '^https?://[^\\s#]+$' })
const Id = Type.String({ minLength: 1, maxLength: 255 })

const ImageChoice = Type.Union([
  Type.String({ minLength: 1, maxLength: 512 }),
  Type.Object({
    value: Type.String({ minLength: 1, maxLength: 512 }),
    /** The name people see on the launch form (default: the image itself). */
    label: Type.Optional(Type.String({ maxLength: 200 })),
    /** A sentence shown under the form's image choice: what the image holds. */
    description: Type.Optional(Type.String({ maxLength: 500 }))
  }, { additionalProperties: false })
])

export const RegistrationSchema = Type.Object({
  client_id: Id,
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  deployment_ids: Type.Optional(Type.Array(Id, { minItems: 1 })),
  deployment_id: Type.Optional(Id),
  initiate_login_uri: Url,
  /** How the browser is sent to initiate_login_uri: a GET redirect (default) or an auto-submitted POST. */
  login_initiation_method: Type.Optional(Type.Union([Type.Literal('get'), Type.Literal('post')])),
  target_link_uri: Url,
  redirect_uris: Type.Array(Url, { minItems: 1 }),
  jwks_uri: Type.Optional(Url),
  /** Where LtiDeepLinkingRequests go (the tool's deep linking target); with jwks_uri, it lets course staff add links. */
  deep_linking_url: Type.Optional(Url),
  /** Static values or substitution variables ($User.id, $Context.title, ...). */
  custom: Type.Optional(Type.Record(
    Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: CUSTOM_KEY_MAX_LENGTH }),
    Type.String({ maxLength: CUSTOM_VALUE_MAX_LENGTH }),
    { maxProperties: CUSTOM_MAX_PARAMS }
  )),
  /** The images offered on the launch form; the first is the default. */
  images: Type.Optional(Type.Array(ImageChoice, { maxItems: 100 })),
  send_name: Type.Optional(Type.Boolean()),
  send_email: Type.Optional(Type.Boolean()),
  document_target: Type.Optional(Type.Union([Type.Literal('window'), Type.Literal('iframe'), Type.Literal('frame')])),
  /**
   * The LTI service scopes (AGS, NRPS) the tool may be granted at /lti/token;
   * default every one, with jwks_uri (the token endpoint verifies the tool
   * with it). An empty list offers the tool no service.
   */
  scopes: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 20 }))
}, { additionalProperties: false })

const RegistrationsFileSchema = Type.Union([
  Type.Object({ tools: Type.Array(RegistrationSchema) }, { additionalProperties: false }),
  Type.Array(RegistrationSchema)
])

/** An image on the launch form: what is sent, the name shown, and what it holds. */
export interface ImageOffer {
  value: string
  label: string
  description?: string
}

export interface Registration {
  clientId: string
  name: string
  description?: string
  deploymentIds: string[]
  initiateLoginUri: string
  loginInitiationMethod: 'get' | 'post'
  targetLinkUri: string
  redirectUris: string[]
  jwksUri?: string
  deepLinkingUrl?: string
  custom: Record<string, string>
  images: ImageOffer[]
  sendName: boolean
  sendEmail: boolean
  documentTarget: 'window' | 'iframe' | 'frame'
  /** The service scopes the tool may get an access token for (none without jwks_uri). */
  scopes: ServiceScope[]
}

function normalize (entry: Static<typeof RegistrationSchema>): Registration {
  const deploymentIds = entry.deployment_ids ?? (entry.deployment_id === undefined ? [] : [entry.deployment_id])
  if (deploymentIds.length === 0) throw new Error(`tool ${entry.client_id}: give deployment_ids (or deployment_id)`)
  const customProblem = customClaimProblem(entry.custom ?? {})
  if (customProblem !== undefined) throw new Error(`tool ${entry.client_id}: custom: ${customProblem}`)
  const registration: Registration = {
    clientId: entry.client_id,
    name: entry.name,
    deploymentIds,
    initiateLoginUri: entry.initiate_login_uri,
    loginInitiationMethod: entry.login_initiation_method ?? 'get',
    targetLinkUri: entry.target_link_uri,
    redirectUris: entry.redirect_uris,
    custom: { ...entry.custom },
    images: (entry.images ?? []).map((image) => typeof image === 'string'
      ? { value: image, label: image }
      : {
          value: image.value,
          label: image.label ?? image.value,
          ...(image.description === undefined ? {} : { description: image.description })
        }),
    // Personal data is sent unless a registration says not to, as LMSs do by default for a trusted tool.
    sendName: entry.send_name ?? true,
    sendEmail: entry.send_email ?? true,
    documentTarget: entry.document_target ?? 'window',
    scopes: []
  }
  for (const scope of entry.scopes ?? []) {
    if (!isServiceScope(scope)) throw new Error(`tool ${entry.client_id}: scopes: ${scope} is not an AGS or NRPS scope this platform offers (${SERVICE_SCOPES.join(', ')})`)
  }
  if (entry.jwks_uri !== undefined) registration.scopes = [...new Set((entry.scopes ?? SERVICE_SCOPES) as ServiceScope[])]
  if (entry.description !== undefined) registration.description = entry.description
  if (entry.jwks_uri !== undefined) registration.jwksUri = entry.jwks_uri
  if (entry.deep_linking_url !== undefined) {
    if (entry.jwks_uri === undefined) throw new Error(`tool ${entry.client_id}: deep_linking_url needs jwks_uri, to verify the links the tool sends back`)
    registration.deepLinkingUrl = entry.deep_linking_url
  }
  return registration
}

/** The registrations in a JSON or YAML document: a list, or `{ tools: [...] }`. */
export function parseRegistrations (text: string | undefined): Registration[] {
  if (text === undefined || text.trim() === '') return []
  const data = parseDocument(RegistrationsFileSchema, text)
  const list = Array.isArray(data) ? data : data.tools
  const seen = new Set<string>()
  return list.map((entry) => {
    if (seen.has(entry.client_id)) throw new Error(`client_id ${entry.client_id} is registered twice`)
    seen.add(entry.client_id)
    return normalize(entry)
  })
}

/** The store map of tools registered by URL (LTI Dynamic Registration), by client_id. */
export const REGISTERED_TOOLS_MAP = 'tools'

/** A tool registered by URL, as stored: its entry in the registrations file's shape, and where it came from. */
export interface StoredTool {
  tool: Static<typeof RegistrationSchema>
  /** The messages the tool registered (LTI-DR `messages`), kept for deep linking. */
  messages: unknown[]
  registered_at: string
  registered_by: string
}

/** A stored tool, checked as a file entry is. */
export function registrationOf (stored: StoredTool): Registration {
  const [registration] = parseRegistrations(JSON.stringify([stored.tool]))
  return registration as Registration
}
