/**
 * LTI Dynamic Registration 1.0, the tool's side: read and check a
 * platform's OpenID configuration, build this tool's registration, send it,
 * and keep what the platform answers as a platform registration in the
 * store, in the platforms file's own shape.
 */
import { SERVICE_SCOPE, MESSAGE_TYPE } from '@ltilaunch/claims'
import { isHttpUrl, type Store } from '@ltilaunch/service-kit'
import {
  RegistrationConfigurationInvalid,
  RegistrationConfigurationUnavailable,
  RegistrationEndpointsChanged,
  RegistrationIssuerMismatch,
  RegistrationRefused
} from '../errors.js'

export const PLATFORM_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-platform-configuration'
export const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration'

/** The store map of registrations made by URL, one record per issuer. */
export const REGISTRATIONS_MAP = 'registrations'
/** One-time registration links an operator made: `reglink:<token>`. */
export const LINK_PREFIX = 'reglink:'
/** A registration shown to the operator and not yet confirmed: `regpending:<id>`. */
export const PENDING_PREFIX = 'regpending:'
export const PENDING_TTL = 1800

/** Largest configuration or registration reply read from a platform. */
const MAX_REPLY_BYTES = 256 * 1024

/** The LTI Advantage scopes this tool asks for when it registers: line items, scores, results, memberships. */
export const REGISTRATION_SCOPES = [
  SERVICE_SCOPE.lineItem,
  SERVICE_SCOPE.resultReadOnly,
  SERVICE_SCOPE.score,
  SERVICE_SCOPE.contextMembershipReadOnly
]

/** What this tool needs from a platform's OpenID configuration, checked. */
export interface PlatformConfiguration {
  issuer: string
  authorizationEndpoint: string
  registrationEndpoint: string
  jwksUri: string
  tokenEndpoint: string
  productFamilyCode: string
  version?: string
  messagesSupported: string[]
}

/** A registration made by URL, as kept in the store: a platforms-file entry plus where it came from. */
export interface StoredRegistration {
  issuer: string
  client_ids: string[]
  authorize_url: string
  jwks_endpoint: string
  token_endpoint: string
  /** Empty: every deployment is accepted (the platform named none). */
  deployment_ids: string[]
  username_key?: string
  username_prefix: string
  username_suffix: string
  admin_roles?: string[]
  product_family_code: string
  registered_at: string
  /** 'link' (a one-time link) or 'secret' (REGISTRATION_SECRET). */
  authorized_by: 'link' | 'secret'
}

export interface IdentityChoice {
  usernameKey?: string
  usernamePrefix: string
  usernameSuffix: string
  adminRoles?: string[]
}

async function readJson (response: Response, what: string): Promise<unknown> {
  const text = await response.text()
  if (text.length > MAX_REPLY_BYTES) throw new Error(`${what} is longer than ${MAX_REPLY_BYTES} bytes`)
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`${what} is not JSON`)
  }
}

/** Reads the configuration; the registration token goes along as a bearer, as some platforms (Moodle) require. */
export async function fetchConfiguration (url: string, registrationToken: string | undefined, timeoutMs: number): Promise<unknown> {
  let response: Response
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json', ...(registrationToken ? { authorization: `Bearer ${registrationToken}` } : {}) },
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs)
    })
  } catch (err) {
    throw new RegistrationConfigurationUnavailable(`${new URL(url).origin} did not answer: ${(err as Error).message}`)
  }
  if (!response.ok) throw new RegistrationConfigurationUnavailable(`${new URL(url).origin} answered HTTP ${response.status}`)
  try {
    return await readJson(response, 'the configuration')
  } catch (err) {
    throw new RegistrationConfigurationUnavailable((err as Error).message)
  }
}

function stringArray (value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((entry) => typeof entry === 'string') ? value : undefined
}

/**
 * Checks a platform's configuration as the spec asks: the issuer is on the
 * host the configuration came from; the endpoints the tool needs are
 * http(s) URLs; and, where the platform lists them, it supports id_token
 * responses, a signing algorithm the tool accepts, and resource link launches.
 */
export function checkConfiguration (raw: unknown, configurationUrl: string, algorithms: readonly string[], sharedIssuers: readonly string[] = []): PlatformConfiguration {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RegistrationConfigurationInvalid('it is not a JSON object')
  const entry = raw as Record<string, unknown>
  const issuer = entry.issuer
  if (!isHttpUrl(issuer)) throw new RegistrationConfigurationInvalid('"issuer" is missing or not an http(s) URL')
  const issuerUrl = new URL(issuer)
  if (issuerUrl.search !== '' || issuerUrl.hash !== '') throw new RegistrationConfigurationInvalid('"issuer" has a query or fragment')
  // An issuer that many instances share (Canvas cloud) is exempt only where the operator says so.
  if (issuerUrl.host.toLowerCase() !== new URL(configurationUrl).host.toLowerCase() && !sharedIssuers.includes(issuer)) {
    throw new RegistrationIssuerMismatch(issuer, new URL(configurationUrl).host)
  }
  for (const name of ['authorization_endpoint', 'registration_endpoint', 'jwks_uri', 'token_endpoint']) {
    if (!isHttpUrl(entry[name])) throw new RegistrationConfigurationInvalid(`"${name}" is missing or not an http(s) URL`)
  }
  const responseTypes = stringArray(entry.response_types_supported)
  if (responseTypes !== undefined && !responseTypes.includes('id_token')) {
    throw new RegistrationConfigurationInvalid('"response_types_supported" does not include id_token, which LTI launches use')
  }
  const signing = stringArray(entry.id_token_signing_alg_values_supported)
  if (signing !== undefined && !signing.some((alg) => algorithms.includes(alg))) {
    throw new RegistrationConfigurationInvalid(`the platform signs id_tokens with ${signing.join(', ') || 'nothing'}, and the tool accepts ${algorithms.join(', ')} (ID_TOKEN_ALGORITHMS)`)
  }
  const lti = entry[PLATFORM_CONFIGURATION]
  if (typeof lti !== 'object' || lti === null) throw new RegistrationConfigurationInvalid(`"${PLATFORM_CONFIGURATION}" is missing`)
  const platform = lti as Record<string, unknown>
  if (typeof platform.product_family_code !== 'string' || platform.product_family_code === '') {
    throw new RegistrationConfigurationInvalid('"product_family_code" is missing from the LTI platform configuration')
  }
  const messages = Array.isArray(platform.messages_supported)
    ? platform.messages_supported.map((message) => (message as { type?: unknown } | null)?.type).filter((type): type is string => typeof type === 'string')
    : []
  if (Array.isArray(platform.messages_supported) && !messages.includes(MESSAGE_TYPE.resourceLink)) {
    throw new RegistrationConfigurationInvalid(`the platform does not list ${MESSAGE_TYPE.resourceLink} in messages_supported`)
  }
  const configuration: PlatformConfiguration = {
    issuer,
    authorizationEndpoint: entry.authorization_endpoint as string,
    registrationEndpoint: entry.registration_endpoint as string,
    jwksUri: entry.jwks_uri as string,
    tokenEndpoint: entry.token_endpoint as string,
    productFamilyCode: platform.product_family_code,
    messagesSupported: messages
  }
  if (typeof platform.version === 'string') configuration.version = platform.version
  return configuration
}

/** Custom parameters every launch asks for (ltiauthenticator's, so a Canvas launch carries an email). */
export const REGISTRATION_CUSTOM_PARAMETERS = { email: '$Person.email.primary', lms_user_id: '$User.id' }

/** The claims the tool reads from a launch. */
const CLAIMS = ['iss', 'sub', 'name', 'given_name', 'family_name', 'email']

/**
 * This tool's registration request (LTI-DR 3.3): where the platform sends
 * logins, launches and keys, and what it launches. Deep linking is offered
 * where the platform supports it, with the Canvas placements for its picker.
 */
export function toolRegistration (base: string, options: { toolName: string, toolDescription: string, configuration: PlatformConfiguration }): Record<string, unknown> {
  const target = `${base}/lti13/launch`
  const deepLinking = options.configuration.messagesSupported.includes(MESSAGE_TYPE.deepLinking)
  const messages: Array<Record<string, unknown>> = [{
    type: MESSAGE_TYPE.resourceLink,
    target_link_uri: target,
    label: options.toolName,
    // Canvas reads its placements from here; other platforms ignore them.
    placements: ['course_navigation'],
    'https://canvas.instructure.com/lti/course_navigation/default_enabled': false
  }]
  if (deepLinking) {
    messages.push({
      type: MESSAGE_TYPE.deepLinking,
      target_link_uri: target,
      label: options.toolName,
      placements: ['ContentArea', 'link_selection', 'assignment_selection', 'editor_button'],
      supported_types: ['ltiResourceLink']
    })
  }
  return {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: `${base}/lti13/oauth_login`,
    // The target is a redirect URI too: some platforms post the id_token to it.
    redirect_uris: [`${base}/lti13/oauth_callback`, target],
    client_name: options.toolName,
    jwks_uri: `${base}/lti13/jwks`,
    token_endpoint_auth_method: 'private_key_jwt',
    // Grades from notebooks (AGS) and course rosters (NRPS).
    scope: REGISTRATION_SCOPES.join(' '),
    [TOOL_CONFIGURATION]: {
      domain: new URL(base).host,
      description: options.toolDescription,
      target_link_uri: target,
      custom_parameters: REGISTRATION_CUSTOM_PARAMETERS,
      claims: CLAIMS,
      messages,
      // Canvas: the platform sends names and email (public), as ltiauthenticator asks.
      'https://canvas.instructure.com/lti/privacy_level': 'public'
    }
  }
}

/** Sends the registration; the platform's answer must carry the client_id it assigned. */
export async function sendRegistration (configuration: PlatformConfiguration, registrationToken: string | undefined, body: Record<string, unknown>, timeoutMs: number): Promise<{ clientId: string, deploymentId?: string }> {
  let response: Response
  try {
    response = await fetch(configuration.registrationEndpoint, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        ...(registrationToken ? { authorization: `Bearer ${registrationToken}` } : {})
      },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs)
    })
  } catch (err) {
    throw new RegistrationRefused(`its registration endpoint did not answer: ${(err as Error).message}`)
  }
  let reply: unknown
  try {
    reply = await readJson(response, 'the registration reply')
  } catch (err) {
    throw new RegistrationRefused(`HTTP ${response.status}, ${(err as Error).message}`)
  }
  const answer = (typeof reply === 'object' && reply !== null ? reply : {}) as Record<string, unknown>
  if (!response.ok) {
    // RFC 7591's error and error_description, or a {code, message} reply (ltilaunch's own platform).
    const reason = [answer.error ?? answer.code, answer.error_description ?? answer.message].filter((part) => typeof part === 'string').join(': ')
    throw new RegistrationRefused(`HTTP ${response.status}${reason === '' ? '' : `, ${reason.slice(0, 300)}`}`)
  }
  if (typeof answer.client_id !== 'string' || answer.client_id === '') throw new RegistrationRefused('its reply has no client_id')
  const toolConfiguration = answer[TOOL_CONFIGURATION] as Record<string, unknown> | undefined
  const deploymentId = toolConfiguration?.deployment_id
  return {
    clientId: answer.client_id,
    ...(typeof deploymentId === 'string' && deploymentId !== '' ? { deploymentId } : {})
  }
}

/**
 * The default namespace of a platform registered by URL: its issuer's host
 * before every username and course (`lms.example.edu-ada`), so that two
 * platforms cannot produce the same hub name unless the operator says so.
 */
export function defaultNamespace (issuer: string): { prefix: string, suffix: string } {
  return { prefix: `${new URL(issuer).host.toLowerCase().replaceAll(':', '-')}-`, suffix: '' }
}

/**
 * A platform registered again (a second tool entry in the LMS) must keep its
 * endpoints: otherwise whoever holds a link could point a registered
 * issuer's keys elsewhere and sign launches as its users.
 */
export function assertSameEndpoints (existing: StoredRegistration | undefined, configuration: PlatformConfiguration): void {
  if (existing === undefined) return
  if (existing.authorize_url !== configuration.authorizationEndpoint || existing.jwks_endpoint !== configuration.jwksUri) {
    throw new RegistrationEndpointsChanged(configuration.issuer)
  }
}

/**
 * Stores a completed registration. A platform that registers again (a
 * second tool entry in the LMS) adds its client id; the identity settings
 * are the operator's latest choice.
 */
export async function storeRegistration (store: Store, configuration: PlatformConfiguration, result: { clientId: string, deploymentId?: string }, identity: IdentityChoice, authorizedBy: 'link' | 'secret'): Promise<StoredRegistration> {
  const existing = await store.mapGet<StoredRegistration>(REGISTRATIONS_MAP, configuration.issuer)
  assertSameEndpoints(existing, configuration)
  const clientIds = [...new Set([...(existing?.client_ids ?? []), result.clientId])]
  // A registration that names no deployment accepts every one; so does the record then.
  const deploymentIds = result.deploymentId === undefined || (existing !== undefined && existing.deployment_ids.length === 0)
    ? []
    : [...new Set([...(existing?.deployment_ids ?? []), result.deploymentId])]
  const record: StoredRegistration = {
    issuer: configuration.issuer,
    client_ids: clientIds,
    authorize_url: configuration.authorizationEndpoint,
    jwks_endpoint: configuration.jwksUri,
    token_endpoint: configuration.tokenEndpoint,
    deployment_ids: deploymentIds,
    username_prefix: identity.usernamePrefix,
    username_suffix: identity.usernameSuffix,
    product_family_code: configuration.productFamilyCode,
    registered_at: new Date().toISOString(),
    authorized_by: authorizedBy
  }
  if (identity.usernameKey !== undefined) record.username_key = identity.usernameKey
  if (identity.adminRoles !== undefined) record.admin_roles = identity.adminRoles
  await store.mapSet(REGISTRATIONS_MAP, configuration.issuer, record)
  return record
}
