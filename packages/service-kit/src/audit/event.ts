import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'

/** Raised when the envelope changes in a way a collector must know about. */
export const AUDIT_SCHEMA_VERSION = 1

/**
 * Every kind of audit event, a closed list: a collector can alert on an
 * unknown type, and a new one is added here (and in the operator guide)
 * before any service emits it. Success or failure is the `outcome`, not
 * part of the type.
 */
export const AUDIT_EVENT_TYPES = {
  'platform.sign_in': 'a person signed in to the platform (or was refused)',
  'platform.launch': 'the platform signed an id_token for a tool (or refused the authorization request)',
  'platform.launch_url': 'a host site asked for a one-time launch URL (server to server, API key checked)',
  'platform.deep_link': 'a tool\'s deep linking response was accepted (or refused)',
  'platform.registration.added': 'a tool was registered with the platform',
  'platform.registration.removed': 'a tool registration was removed from the platform',
  'platform.admin': 'an administrator action on the platform',
  'platform.grades.token': 'an access token was issued to a tool for the grade and roster services (or refused)',
  'platform.grades.score': 'a score from a tool was received (or refused)',
  'tool.launch': 'tool-auth accepted a launch (or refused it, with the refusal\'s code)',
  'tool.hub.code': 'an OAuth authorization code was issued to the hub for a launched person (or refused)',
  'tool.hub.token': 'tokens were issued to the hub for a code or a refresh token (or refused)',
  'tool.hub.revoked': 'a grant\'s tokens were revoked (a code or refresh token was used twice)',
  'tool.registration.added': 'a platform was registered with tool-auth',
  'tool.registration.removed': 'a platform registration was removed from tool-auth',
  'tool.score.posted': 'a score was posted to a platform for a launched person (or refused)',
  'broker.launch': 'the broker accepted a launch (or refused it by its image policy)',
  'broker.server': 'a launch\'s server was started (or failed to start)',
  'broker.admin_flag': 'the broker set or removed a hub user\'s admin flag'
} as const

export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES

// Short, printable strings: identifiers and names, never documents or URLs with queries.
const Name = (description: string) => Type.String({ minLength: 1, maxLength: 512, pattern: '^[^\\u0000-\\u001f?#]*$', description })
const Code = Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,100}$', description: 'the stable error code of a failure (PLATFORM_..., TOOL_AUTH_..., BROKER_..., or an OAuth error such as invalid_grant)' })

/** Who acted. A person is (issuer, sub); a program is a client id. */
export const AuditActorSchema = Type.Object({
  issuer: Type.Optional(Name('the issuer that vouches for the person (a platform\'s issuer, or the platform\'s own URL for its sign-in)')),
  sub: Type.Optional(Name('the person\'s subject at that issuer')),
  username: Type.Optional(Name('the hub (or platform) username, where known')),
  role: Type.Optional(Name('staff or learner, as classified from the launch')),
  client_id: Type.Optional(Name('the OAuth or LTI client that acted (a tool, the hub)'))
}, { additionalProperties: false })

/** What was acted on. Only these fields: an event has no room for a token, a launch id or a URL with a query. */
export const AuditTargetSchema = Type.Object({
  issuer: Type.Optional(Name('a platform\'s issuer (registrations)')),
  client_id: Type.Optional(Name('the LTI client id (a tool registration)')),
  deployment_id: Type.Optional(Name('the LTI deployment id')),
  context_id: Type.Optional(Name('the course (LTI context) id')),
  resource_link_id: Type.Optional(Name('the LTI resource link id')),
  image: Type.Optional(Name('the notebook image')),
  username: Type.Optional(Name('the hub user acted on')),
  server: Type.Optional(Name('the named server')),
  admin: Type.Optional(Type.Boolean({ description: 'the admin flag that was set (true) or removed (false)' })),
  line_item: Type.Optional(Name('the AGS line item')),
  tool: Type.Optional(Name('the tool\'s name or origin (registrations)'))
}, { additionalProperties: false })

/** One audit event: the fixed envelope every service emits. */
export const AuditEventSchema = Type.Object({
  schema_version: Type.Literal(AUDIT_SCHEMA_VERSION),
  type: Type.Union(Object.entries(AUDIT_EVENT_TYPES).map(([type, description]) => Type.Literal(type, { description }))),
  time: Type.String({ format: 'date-time', description: 'when the outcome was known (ISO 8601, UTC)' }),
  service: Type.Union([Type.Literal('platform'), Type.Literal('tool-auth'), Type.Literal('spawner-broker')]),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  error_code: Type.Optional(Code),
  request_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'the request id (X-Request-Id) of the request that had this outcome' })),
  trace_id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$', description: 'the W3C trace id, where the request carried or began a trace' })),
  client_address: Type.Optional(Type.String({ maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$', description: 'the client\'s IP address (after TRUST_PROXY)' })),
  actor: Type.Optional(AuditActorSchema),
  target: Type.Optional(AuditTargetSchema)
}, {
  $id: 'https://ltilaunch.dev/schemas/audit-event.json',
  title: 'ltilaunch audit event',
  description: 'One security-relevant outcome, as written to stdout (the `event` of a line with `audit: true`) and to the audit Redis Stream (the `event` field).',
  additionalProperties: false
})

export type AuditEvent = Static<typeof AuditEventSchema>
export type AuditActor = Static<typeof AuditActorSchema>
export type AuditTarget = Static<typeof AuditTargetSchema>
export type AuditOutcome = AuditEvent['outcome']
export type AuditService = AuditEvent['service']

/** What a caller says; the trail adds the version, time and service. */
export interface AuditInput {
  type: AuditEventType
  outcome: AuditOutcome
  error_code?: string | undefined
  request_id?: string | undefined
  trace_id?: string | undefined
  client_address?: string | undefined
  actor?: AuditActor | undefined
  target?: AuditTarget | undefined
}

const compiled = Compile(AuditEventSchema)

/** Whether a value is an audit event of this schema. */
export function isAuditEvent (value: unknown): value is AuditEvent {
  return compiled.Check(value)
}

/** What is wrong with a value as an audit event (empty when it is one). */
export function auditEventProblems (value: unknown): string[] {
  return [...compiled.Errors(value)].map((error) => `${error.instancePath || '/'} ${error.message}`)
}

/** The JSON Schema of an event, as published in docs/audit-event.schema.json. */
export function auditEventJsonSchema (): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...JSON.parse(JSON.stringify(AuditEventSchema)) as Record<string, unknown> }
}
