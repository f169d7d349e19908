import createError from '@fastify/error'

/* Sign-in and sessions */
export const InvalidCredentials = createError('PLATFORM_INVALID_CREDENTIALS', 'The username or password is not right.', 401)
export const CsrfFailed = createError('PLATFORM_CSRF_FAILED', 'This form has expired or did not come from this site. Go back, reload the page and try again.', 403)
export const SignInRequired = createError('PLATFORM_SIGN_IN_REQUIRED', 'Sign in to launch a tool.', 401)

/* The launch form */
export const UnknownTool = createError<[string]>('PLATFORM_UNKNOWN_TOOL', 'No tool is registered with client_id %s.', 404)
export const UnknownCourse = createError<[string]>('PLATFORM_UNKNOWN_COURSE', 'You are not a member of course %s.', 403)
export const ImageNotOffered = createError<[string, string]>('PLATFORM_IMAGE_NOT_OFFERED', 'The image %s is not one that %s offers.', 422)
export const UnknownDeployment = createError<[string, string]>('PLATFORM_UNKNOWN_DEPLOYMENT', 'Deployment %s is not registered for tool %s.', 422)
export const LaunchInvalid = createError<[string]>('PLATFORM_LAUNCH_INVALID', 'This launch cannot be built: %s', 422)
/* What a launch can carry to the tool (packages/claims limits.ts) and what the hub accepts as a username */
export const CustomTooLarge = createError<[string]>('PLATFORM_CUSTOM_TOO_LARGE', 'This launch cannot be delivered to the tool: %s.', 422)
export const LaunchTooLarge = createError<[number, number]>('PLATFORM_LAUNCH_TOO_LARGE',
  'This launch cannot be delivered to the tool: its claims take %d bytes as JSON, and at most %d fit in an id_token the tool accepts. Send fewer or shorter roles, names or custom parameters.', 422)
export const HubUsernameRefused = createError<[string]>('PLATFORM_USERNAME_REFUSED',
  'This user cannot be launched, because JupyterHub would refuse a username the launch can become (%s). Correct the user\'s identifiers at the host site.', 422)

/* The authorization endpoint: failures that must not be redirected */
export const AuthUnknownClient = createError('PLATFORM_AUTH_UNKNOWN_CLIENT', 'The tool asked to sign you in with a client_id that this platform does not know.', 400)
export const AuthRedirectUriNotRegistered = createError('PLATFORM_AUTH_REDIRECT_URI_NOT_REGISTERED', 'The tool asked to send your sign-in to an address (redirect_uri) that is not registered for it.', 400)

/* The launch API */
export const ApiUnauthorized = createError('PLATFORM_UNAUTHORIZED', 'A valid launch API key is required (Authorization: Bearer <key>).', 401)
export const LaunchLinkInvalid = createError('PLATFORM_LAUNCH_LINK_INVALID', 'This launch link has already been used or has expired. Go back to the site you came from and launch again.', 410)

/* Dynamic registration (a tool registers by URL) */
export const AdminRequired = createError('PLATFORM_ADMIN_REQUIRED', 'Only an administrator (a system or institution Administrator role) can manage tool registrations. Sign in as one.', 403)
export const RegistrationUrlInvalid = createError('PLATFORM_REGISTRATION_URL_INVALID', 'The registration URL must be an http(s) URL, as the tool\'s documentation gives it. Paste it again.', 400)
export const RegistrationTokenInvalid = createError('PLATFORM_REGISTRATION_TOKEN_INVALID', 'The registration token is missing, was already used or has expired. Start the registration again from the platform\'s "Register a tool by URL" page.', 401)
export const RegistrationInvalid = createError<[string]>('PLATFORM_REGISTRATION_INVALID', 'The tool\'s registration cannot be accepted: %s.', 400)
/* Deep linking: adding links to a course, and launching them */
export const DeepLinkingNotConfigured = createError<[string]>('PLATFORM_DEEP_LINKING_NOT_CONFIGURED', 'The tool %s has no deep linking URL registered, so links cannot be added with it. Ask the administrator to set deep_linking_url and jwks_uri in its registration.', 422)
export const DeepLinkStaffOnly = createError('PLATFORM_DEEP_LINK_STAFF_ONLY', 'Only the course\'s staff (instructors, teaching assistants, administrators) can add links to it.', 403)
export const DeepLinkResponseMissing = createError('PLATFORM_DEEP_LINK_RESPONSE_MISSING', 'The tool\'s answer has no JWT. Start adding the link again from the course page.', 400)
export const DeepLinkTokenInvalid = createError<[string]>('PLATFORM_DEEP_LINK_TOKEN_INVALID', 'The tool\'s answer cannot be trusted: %s Start adding the link again; if it keeps happening, the tool\'s registration (client_id, jwks_uri) is wrong.', 400)
export const DeepLinkAudience = createError<[string]>('PLATFORM_DEEP_LINK_AUDIENCE', 'The tool\'s answer is addressed to another platform (%s). Ask the administrator to check the issuer configured in the tool.', 400)
export const DeepLinkNonceReplayed = createError('PLATFORM_DEEP_LINK_NONCE_REPLAYED', 'This answer from the tool has already been used. Start adding the link again from the course page.', 400)
export const DeepLinkDataMismatch = createError('PLATFORM_DEEP_LINK_DATA_MISMATCH', 'The tool\'s answer does not belong to a link being added here (it was already used, has expired, or came for another tool). Start adding the link again from the course page.', 400)
export const DeepLinkJwksUnavailable = createError<[string]>('PLATFORM_DEEP_LINK_JWKS_UNAVAILABLE', 'The tool\'s signing keys cannot be fetched right now (%s). Try again in a minute.', 503)
export const UnknownLink = createError('PLATFORM_UNKNOWN_LINK', 'There is no such link in this course (it may have been removed). Go back to the course page.', 404)

/* The token endpoint (/lti/token): client credentials with a JWT client assertion; each goes out as an RFC 6749 error too */
export const TokenGrantUnsupported = createError<[string]>('PLATFORM_TOKEN_GRANT_UNSUPPORTED', 'grant_type %s is not offered; use client_credentials with a JWT client assertion.', 400)
export const TokenRequestInvalid = createError<[string]>('PLATFORM_TOKEN_REQUEST_INVALID', 'The token request is not complete: %s', 400)
export const TokenClientUnknown = createError<[string]>('PLATFORM_TOKEN_CLIENT_UNKNOWN', 'The client assertion names a client that cannot use the LTI services here: %s', 401)
export const TokenAssertionInvalid = createError<[string]>('PLATFORM_TOKEN_ASSERTION_INVALID', 'The client assertion cannot be trusted: %s', 401)
export const TokenAssertionExpired = createError('PLATFORM_TOKEN_ASSERTION_EXPIRED', 'The client assertion has expired (exp); sign a fresh one for each token request.', 401)
export const TokenAssertionAudience = createError<[string]>('PLATFORM_TOKEN_ASSERTION_AUDIENCE', 'The client assertion is addressed to %s; its aud must be this platform\'s token endpoint (or its issuer).', 401)
export const TokenAssertionReplayed = createError('PLATFORM_TOKEN_ASSERTION_REPLAYED', 'This client assertion (its jti) has already been used; sign a fresh one with a new jti for each token request.', 401)
export const TokenScopeInvalid = createError<[string]>('PLATFORM_TOKEN_SCOPE_INVALID', 'No scope asked for can be granted to this tool: %s', 400)
export const TokenJwksUnavailable = createError<[string]>('PLATFORM_TOKEN_JWKS_UNAVAILABLE', 'The tool\'s signing keys (jwks_uri) cannot be fetched right now (%s). Try again in a minute.', 503)

/* The LTI services (AGS line items, scores and results; NRPS memberships), called with a Bearer access token */
export const ServiceTokenInvalid = createError('PLATFORM_SERVICE_TOKEN_INVALID', 'A valid access token from /lti/token is required (Authorization: Bearer <token>); it may have expired.', 401)
export const ServiceScopeMissing = createError<[string]>('PLATFORM_SERVICE_SCOPE_MISSING', 'The access token was not granted the scope this needs (%s). Ask /lti/token for it.', 403)
export const ServiceContextNotGranted = createError<[string]>('PLATFORM_SERVICE_CONTEXT_NOT_GRANTED', 'This tool has not been launched in course %s, so it cannot use that course\'s grades or roster.', 403)
export const ServiceMediaType = createError<[string, string]>('PLATFORM_SERVICE_MEDIA_TYPE', 'A body of type %s is not accepted here; send %s.', 415)
export const LineItemNotFound = createError('PLATFORM_LINEITEM_NOT_FOUND', 'There is no such line item in this course for this tool (it may have been deleted).', 404)
export const LineItemInvalid = createError<[string]>('PLATFORM_LINEITEM_INVALID', 'The line item cannot be accepted: %s', 400)
export const ScoreInvalid = createError<[string]>('PLATFORM_SCORE_INVALID', 'The score cannot be accepted: %s', 400)
export const ScoreUserNotMember = createError<[string]>('PLATFORM_SCORE_USER_NOT_MEMBER', 'The user %s is not a member of this course, so no score can be kept for them.', 422)
export const ScoreOutOfOrder = createError<[string]>('PLATFORM_SCORE_OUT_OF_ORDER', 'A newer score is already kept for this user and line item (timestamp %s); a score older than it is refused.', 409)
