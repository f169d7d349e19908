/**
 * TypeBox schemas (and their static types) of everything that crosses a
 * service boundary in a launch: the OIDC parameters, the id_token payload,
 * the pending launch tool-auth sends the broker, the broker's launch record,
 * and the userinfo the hub reads.
 *
 * Schemas of what others send us (OIDC parameters, the id_token) are
 * liberal: unknown properties are allowed and values are checked by code
 * that can answer with a precise error. Schemas of our own APIs are strict.
 */
import { Type, type Static } from 'typebox'
import { LTI_CLAIM } from './claims.js'

/** A string that platforms sometimes send as null (Canvas: resource_link title). */
const OptionalText = Type.Optional(Type.Union([Type.String(), Type.Null()]))
/** An identifier that platforms sometimes send as a number. */
const Id = Type.Union([Type.String(), Type.Number()])

/* ---------------------------------------------------------------- OIDC --- */

/** Third-party initiated login (LTI 1.3 Core / Security 5.1.1), GET query or POST form. */
export const LoginInitiationParamsSchema = Type.Object({
  iss: Type.String(),
  login_hint: Type.String(),
  target_link_uri: Type.String(),
  lti_message_hint: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  lti_deployment_id: Type.Optional(Type.String())
}, { additionalProperties: true })
export type LoginInitiationParams = Static<typeof LoginInitiationParamsSchema>

/**
 * The OIDC authentication request a tool sends to the platform. Every
 * parameter is optional here so the platform can check the values itself and
 * answer with an OIDC error rather than a schema error.
 */
export const AuthorizationRequestParamsSchema = Type.Object({
  scope: Type.Optional(Type.String()),
  response_type: Type.Optional(Type.String()),
  response_mode: Type.Optional(Type.String()),
  prompt: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  redirect_uri: Type.Optional(Type.String()),
  login_hint: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  nonce: Type.Optional(Type.String()),
  lti_message_hint: Type.Optional(Type.String())
}, { additionalProperties: true })
export type AuthorizationRequestParams = Static<typeof AuthorizationRequestParamsSchema>

/* ------------------------------------------------------------ id_token --- */

export const ResourceLinkClaimSchema = Type.Object({
  id: Id,
  title: OptionalText,
  description: OptionalText
}, { additionalProperties: true })
export type ResourceLinkClaim = Static<typeof ResourceLinkClaimSchema>

export const ContextClaimSchema = Type.Object({
  id: Type.Optional(Id),
  label: OptionalText,
  title: OptionalText,
  type: Type.Optional(Type.Union([Type.Array(Type.Unknown()), Type.String(), Type.Null()]))
}, { additionalProperties: true })
export type ContextClaim = Static<typeof ContextClaimSchema>

export const ToolPlatformClaimSchema = Type.Object({
  guid: Type.Optional(Id),
  name: OptionalText,
  version: OptionalText,
  product_family_code: OptionalText,
  contact_email: OptionalText,
  description: OptionalText,
  url: OptionalText
}, { additionalProperties: true })
export type ToolPlatformClaim = Static<typeof ToolPlatformClaimSchema>

export const LaunchPresentationClaimSchema = Type.Object({
  document_target: OptionalText,
  height: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Null()])),
  width: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Null()])),
  return_url: OptionalText,
  locale: OptionalText
}, { additionalProperties: true })
export type LaunchPresentationClaim = Static<typeof LaunchPresentationClaimSchema>

/** Deep Linking 2.0 settings. `accept_*` flags come as booleans or as 'true'/'false'. */
export const DeepLinkingSettingsClaimSchema = Type.Object({
  deep_link_return_url: Type.String(),
  accept_types: Type.Array(Type.String()),
  accept_presentation_document_targets: Type.Array(Type.String()),
  accept_media_types: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  accept_multiple: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  accept_lineitem: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  auto_create: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  title: OptionalText,
  text: OptionalText,
  data: Type.Optional(Type.Unknown())
}, { additionalProperties: true })
export type DeepLinkingSettingsClaim = Static<typeof DeepLinkingSettingsClaimSchema>

/**
 * The JWT payload of an LtiResourceLinkRequest or LtiDeepLinkingRequest.
 *
 * It types the payload after the signature is verified; the semantic checks
 * (version, message type, required claims per type) are
 * `checkLaunchClaims`'s, which reports each problem with a code. So the
 * schema only asks for what OIDC requires and otherwise describes shapes:
 * `sub` may be absent (anonymous launch), ids may be numbers, optional texts
 * may be null, roles may be one string, and vendor claims pass.
 */
export const IdTokenSchema = Type.Object({
  iss: Type.String(),
  sub: Type.Optional(Type.String()),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  azp: Type.Optional(Type.String()),
  exp: Type.Number(),
  iat: Type.Number(),
  nbf: Type.Optional(Type.Number()),
  nonce: Type.String(),
  name: OptionalText,
  given_name: OptionalText,
  family_name: OptionalText,
  middle_name: OptionalText,
  email: OptionalText,
  picture: OptionalText,
  locale: OptionalText,
  [LTI_CLAIM.messageType]: Type.Optional(Type.String()),
  [LTI_CLAIM.version]: Type.Optional(Type.String()),
  [LTI_CLAIM.deploymentId]: Type.Optional(Id),
  [LTI_CLAIM.targetLinkUri]: Type.Optional(Type.String()),
  [LTI_CLAIM.resourceLink]: Type.Optional(ResourceLinkClaimSchema),
  [LTI_CLAIM.roles]: Type.Optional(Type.Union([Type.Array(Type.Unknown()), Type.String()])),
  [LTI_CLAIM.roleScopeMentor]: Type.Optional(Type.Array(Type.Unknown())),
  [LTI_CLAIM.context]: Type.Optional(ContextClaimSchema),
  [LTI_CLAIM.toolPlatform]: Type.Optional(ToolPlatformClaimSchema),
  [LTI_CLAIM.launchPresentation]: Type.Optional(LaunchPresentationClaimSchema),
  [LTI_CLAIM.custom]: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  [LTI_CLAIM.lis]: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  [LTI_CLAIM.deepLinkingSettings]: Type.Optional(DeepLinkingSettingsClaimSchema),
  [LTI_CLAIM.agsEndpoint]: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  [LTI_CLAIM.nrps]: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
}, { additionalProperties: true })
export type IdToken = Static<typeof IdTokenSchema>

/* ------------------------------------------------ tool-auth → broker --- */

/** Staff or learner, as `classifyRoles` decides. */
export const LaunchRoleSchema = Type.Union([Type.Literal('staff'), Type.Literal('learner')])

const Text = (maxLength: number): ReturnType<typeof Type.String> => Type.String({ maxLength })
const Required = (maxLength: number): ReturnType<typeof Type.String> => Type.String({ minLength: 1, maxLength })

/** Custom parameters as strings (see `customParams`). */
export const CustomParamsSchema = Type.Record(Type.String({ maxLength: 255 }), Type.String({ maxLength: 8192 }), { maxProperties: 256 })
export type CustomParams = Static<typeof CustomParamsSchema>

/**
 * What tool-auth POSTs to the broker's `/v1/launches`: who launched, with
 * which role, from where, and the image asked for. Our own API, so no
 * unknown top-level properties. LTI ids are at most 255 characters by spec.
 */
export const PendingLaunchRequestSchema = Type.Object({
  username: Required(255),
  role: LaunchRoleSchema,
  isAdmin: Type.Boolean(),
  roles: Type.Array(Text(1024), { maxItems: 256 }),
  user: Type.Object({
    sub: Required(255),
    issuer: Required(2048),
    name: Type.Optional(Text(1024)),
    email: Type.Optional(Text(1024))
  }),
  platform: Type.Object({
    issuer: Required(2048),
    clientId: Required(255),
    deploymentId: Required(255)
  }),
  course: Type.Optional(Type.Object({
    id: Required(255),
    label: Type.Optional(Text(1024)),
    title: Type.Optional(Text(1024))
  })),
  resourceLink: Type.Object({
    id: Required(255),
    title: Type.Optional(Text(1024))
  }),
  /** `custom.image` as sent by the platform; the broker resolves it against its policy. */
  image: Type.Optional(Text(512)),
  /**
   * The namespace of the platform that vouched for the user, already in
   * `username`; the broker puts it around course groups and server names
   * too. Absent for a platform without one.
   */
  namespace: Type.Optional(Type.Object({ prefix: Text(64), suffix: Text(64) }, { additionalProperties: false })),
  custom: CustomParamsSchema,
  /** The LTI claims the hub may see (roles, context, custom, resource_link, message_type). */
  claims: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
}, { additionalProperties: false })
export type PendingLaunchRequest = Static<typeof PendingLaunchRequestSchema>

/* ------------------------------------------------------------ broker --- */

export const LaunchStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('spawning'),
  Type.Literal('ready'),
  Type.Literal('failed')
])
export type LaunchStatus = Static<typeof LaunchStatusSchema>

export const LaunchProgressSchema = Type.Object({
  /** ISO 8601 time of the event. */
  at: Type.String(),
  message: Type.String(),
  percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 }))
})
export type LaunchProgress = Static<typeof LaunchProgressSchema>

/** What the broker returns from `GET /v1/launches/:id`. */
export const LaunchRecordSchema = Type.Object({
  id: Type.String(),
  status: LaunchStatusSchema,
  username: Type.String(),
  role: LaunchRoleSchema,
  course: Type.Optional(Type.Object({
    id: Type.String(),
    label: Type.Optional(Type.String()),
    title: Type.Optional(Type.String())
  })),
  /** The image the broker resolved and starts. */
  image: Type.String(),
  serverName: Type.String(),
  /** ISO 8601. */
  createdAt: Type.String(),
  /** ISO 8601. */
  updatedAt: Type.String(),
  progress: Type.Array(LaunchProgressSchema),
  serverUrl: Type.Optional(Type.String()),
  /** Why the launch failed, for a person to read. */
  reason: Type.Optional(Type.String())
})
export type LaunchRecord = Static<typeof LaunchRecordSchema>

/* ------------------------------------------------ tool-auth → hub --- */

/** What tool-auth's `/oauth2/userinfo` returns to JupyterHub's GenericOAuthenticator. */
export const HubUserInfoSchema = Type.Object({
  sub: Type.String(),
  name: Type.String(),
  preferred_username: Type.String(),
  email: Type.Optional(Type.String()),
  groups: Type.Array(Type.String()),
  admin: Type.Boolean(),
  lti: Type.Object({
    issuer: Type.String(),
    client_id: Type.String(),
    deployment_id: Type.String(),
    message_type: Type.String(),
    roles: Type.Array(Type.String()),
    role: LaunchRoleSchema,
    context: Type.Optional(Type.Object({
      id: Type.String(),
      label: Type.Optional(Type.String()),
      title: Type.Optional(Type.String()),
      type: Type.Optional(Type.Array(Type.String()))
    })),
    resource_link: Type.Optional(Type.Object({
      id: Type.String(),
      title: Type.Optional(Type.String())
    })),
    custom: Type.Record(Type.String(), Type.String()),
    launch_id: Type.Optional(Type.String()),
    image: Type.Optional(Type.String())
  })
})
export type HubUserInfo = Static<typeof HubUserInfoSchema>
