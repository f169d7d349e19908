import createError from '@fastify/error'

/*
 * Every error tool-auth answers with. The message tells the person what
 * happened; `hint` (set where raised) says what to try. Codes are stable.
 */

// Login initiation
export const LoginParamMissing = createError<[string]>('TOOL_AUTH_LOGIN_PARAM_MISSING',
  'The login request from the platform has no "%s" parameter. Launch the tool again from your course; if it keeps happening, the platform\'s registration of this tool is incomplete.', 400)
export const IssuerUnknown = createError<[string]>('TOOL_AUTH_ISSUER_UNKNOWN',
  'This tool is not registered for the platform "%s". Ask the administrator to add the platform (issuer, client id, authorize URL and JWKS URL) to the tool\'s configuration.', 400)
export const ClientUnknown = createError<[string, string]>('TOOL_AUTH_CLIENT_UNKNOWN',
  'The client id "%s" is not one this tool knows for the platform "%s". Ask the administrator to check the client id in the tool\'s configuration.', 400)
export const ClientAmbiguous = createError<[string]>('TOOL_AUTH_CLIENT_UNKNOWN',
  'The platform "%s" did not say which client id it launches, and several are registered for it. Ask the platform administrator to send client_id in the login request.', 400)
export const TargetNotAllowed = createError<[string]>('TOOL_AUTH_TARGET_NOT_ALLOWED',
  'The launch asks to go to "%s", which is not a host this tool may send you to. Ask the administrator to check the tool\'s target link URI or ALLOWED_HOSTS.', 400)
export const DeploymentUnknown = createError<[string]>('TOOL_AUTH_DEPLOYMENT_UNKNOWN',
  'The deployment "%s" is not one this tool accepts for this platform. Ask the administrator to add it to the platform\'s deployment ids.', 400)

// Callback
export const CallbackParamMissing = createError<[string]>('TOOL_AUTH_CALLBACK_PARAM_MISSING',
  'The platform\'s answer has no "%s". Launch the tool again from your course.', 400)
export const PlatformError = createError<[string]>('TOOL_AUTH_PLATFORM_ERROR',
  'The platform refused the launch: %s. Sign in to your course again and relaunch the tool.', 400)
export const CallbackMethod = createError('TOOL_AUTH_METHOD_NOT_ALLOWED',
  'This address only takes the form that the platform POSTs during a launch; it cannot be opened directly. Launch the tool from your course.', 405)
export const StateMissing = createError('TOOL_AUTH_STATE_MISSING',
  'The platform\'s answer has no state. Launch the tool again from your course.', 400)
export const StateUnknown = createError('TOOL_AUTH_STATE_UNKNOWN',
  'This launch has already been used or has expired. Launch the tool again from your course (a launch must complete within a few minutes, and reloading the page cannot repeat it).', 400)
export const StateMismatch = createError('TOOL_AUTH_STATE_MISMATCH',
  'This launch was started in another tab or browser. Launch the tool again from your course, in one tab.', 400)
export const LaunchUnbound = createError('TOOL_AUTH_LAUNCH_UNBOUND',
  'This launch cannot be tied to your browser: the cookie this tool set when the launch began did not come back, and the platform offers no storage to hold it instead. This happens when the course shows the tool inside a frame and the browser blocks third-party cookies. Open the tool in a new window to continue.', 403)
export const BindingMismatch = createError('TOOL_AUTH_BINDING_MISMATCH',
  'This launch was not started in this browser (the value kept for it in the platform\'s storage is missing or different). Nothing was opened. Launch the tool again from your course.', 403)
export const TokenInvalid = createError<[string]>('TOOL_AUTH_TOKEN_INVALID',
  'The launch token from the platform is not valid: %s. Launch the tool again; if it keeps happening, tell the administrator.', 400)
export const TokenExpired = createError<[string]>('TOOL_AUTH_TOKEN_EXPIRED',
  'The launch token from the platform has expired (%s). Launch the tool again from your course.', 400)
export const TokenNotYetValid = createError<[string]>('TOOL_AUTH_TOKEN_NOT_YET_VALID',
  'The launch token from the platform is not valid yet (%s). Launch the tool again in a moment.', 400)
export const Audience = createError<[string]>('TOOL_AUTH_AUDIENCE',
  'The launch token is not addressed to this tool: %s Ask the administrator to check the client ids registered for this platform.', 401)
export const NonceMismatch = createError('TOOL_AUTH_NONCE_MISMATCH',
  'The launch token does not belong to this launch (its nonce differs). Launch the tool again from your course.', 400)
export const NonceReplayed = createError('TOOL_AUTH_NONCE_REPLAYED',
  'This launch token has already been used. Launch the tool again from your course.', 400)
export const ClaimsInvalid = createError<[string]>('TOOL_AUTH_CLAIMS_INVALID',
  'The launch is not one this tool can act on: %s', 400)
export const UsernameMissing = createError<[string]>('TOOL_AUTH_USERNAME_MISSING', '%s', 400)
export const UsernameTaken = createError<[string]>('TOOL_AUTH_USERNAME_TAKEN',
  'The hub account "%s" already belongs to someone else: a person from another platform, or another person of this one, launched under that name first. Nothing was opened. Tell the administrator, who can give each platform its own username_prefix or username_suffix, or choose a username_key that is unique on this platform (such as sub).', 403)
export const UsernameRefused = createError<[string, string]>('TOOL_AUTH_USERNAME_REFUSED',
  'The username "%s" that this launch gives cannot be a JupyterHub username: %s. Nothing was opened. Tell the administrator, who can choose another username_key for this platform.', 422)
export const JwksUnavailable = createError<[string]>('TOOL_AUTH_JWKS_UNAVAILABLE',
  'The platform\'s signing keys cannot be fetched right now (%s). Try the launch again in a minute.', 503)

// Deep linking (the content picker)
export const DeepLinkReturnUrlInvalid = createError('TOOL_AUTH_DEEP_LINK_RETURN_URL_INVALID',
  'The platform asked for the chosen content to be sent to an address that is not an http(s) URL, so nothing was sent. Ask the platform administrator to check the tool\'s deep linking settings.', 400)
export const DeepLinkStaffOnly = createError('TOOL_AUTH_DEEP_LINK_STAFF_ONLY',
  'Only course staff (instructors, teaching assistants, administrators) can add a notebook link to a course. Ask your instructor to add it; you can then open it from the course.', 403)
export const DeepLinkUnknown = createError('TOOL_AUTH_DEEP_LINK_UNKNOWN',
  'This choice has already been sent or has expired. Open the tool again from the course\'s "add content" (deep linking) menu and choose again.', 400)
export const DeepLinkOneOnly = createError('TOOL_AUTH_DEEP_LINK_ONE_ONLY',
  'The platform accepts only one link at a time: choose one image.', 400)
export const DeepLinkImageNotOffered = createError<[string]>('TOOL_AUTH_DEEP_LINK_IMAGE_NOT_OFFERED',
  'The image "%s" is not one of the images offered. Choose one from the list.', 422)

// Broker
export const ImageRefused = createError<[string]>('TOOL_AUTH_IMAGE_REFUSED',
  'The notebook image for this launch is not allowed: %s Ask your instructor to choose one of the allowed images.', 422)
export const BrokerUnavailable = createError('TOOL_AUTH_BROKER_UNAVAILABLE',
  'The service that starts notebook servers cannot be reached right now. Nothing was started; try the launch again in a minute.', 503)
export const BrokerRefused = createError<[string]>('TOOL_AUTH_BROKER_REFUSED',
  'The service that starts notebook servers refused the launch (%s).', 502)

// Sessions and OAuth pages (the token endpoint answers in RFC 6749 form instead)
export const NoSession = createError('TOOL_AUTH_NO_SESSION',
  'You are not signed in here. Open JupyterHub by launching it from your course in the learning platform.', 401)
export const ResumeUnknown = createError('TOOL_AUTH_RESUME_UNKNOWN',
  'This link to open the tool in its own tab has already been used or has expired. Launch the tool again from your course.', 400)
export const OAuthClientUnknown = createError<[string]>('TOOL_AUTH_OAUTH_CLIENT_UNKNOWN',
  'The application "%s" is not registered with this sign-in service. Ask the administrator to check the hub\'s client_id.', 400)
export const RedirectUriMismatch = createError('TOOL_AUTH_REDIRECT_URI_MISMATCH',
  'The application asked to return to an address that is not registered for it. Ask the administrator to check the hub\'s oauth_callback_url.', 400)

// Rate limits (see lib/rate-limit.ts)
export const RateLimited = createError<[number]>('TOOL_AUTH_RATE_LIMITED',
  'Too many requests from your network address right now. Wait %s seconds, then launch the tool again from your course.', 429)
export const ClientAuthRateLimited = createError<[number]>('TOOL_AUTH_RATE_LIMITED',
  'Too many failed client authentications for this client id from this address. Check the client_secret the hub is configured with, then try again in %s seconds.', 429)
// Dynamic registration (register by URL). A platform that cannot be read or
// refuses is a 422, not a 502: the operator must see the platform's reason,
// and the kit hides the message of a 5xx.
export const RegistrationOff = createError('TOOL_AUTH_REGISTRATION_OFF',
  'Registration by URL is turned off for this tool. Ask the tool\'s operator for its platform settings (or to set DYNAMIC_REGISTRATION=on).', 404)
export const RegistrationParamInvalid = createError<[string]>('TOOL_AUTH_REGISTRATION_PARAM_INVALID',
  'This registration request is not one the tool can act on: %s. Start the registration again from the platform\'s "register by URL" page.', 400)
export const RegistrationNotAuthorized = createError<[string]>('TOOL_AUTH_REGISTRATION_NOT_AUTHORIZED',
  'This registration is not authorized: %s. Ask the tool\'s operator for a one-time registration link (or the registration secret), and paste that link into the platform.', 403)
export const RegistrationLinkInvalid = createError('TOOL_AUTH_REGISTRATION_LINK_INVALID',
  'This registration link has already been used, has expired, or was never issued. Ask the tool\'s operator for a new one-time registration link.', 403)
export const RegistrationConfigurationUnavailable = createError<[string]>('TOOL_AUTH_REGISTRATION_CONFIGURATION_UNAVAILABLE',
  'The platform\'s OpenID configuration cannot be read (%s). Check that the platform is reachable from the tool, then start the registration again.', 422)
export const RegistrationConfigurationInvalid = createError<[string]>('TOOL_AUTH_REGISTRATION_CONFIGURATION_INVALID',
  'The platform\'s OpenID configuration cannot be used for LTI: %s. Tell the platform\'s administrator; nothing was registered.', 422)
export const RegistrationIssuerMismatch = createError<[string, string]>('TOOL_AUTH_REGISTRATION_ISSUER_MISMATCH',
  'The platform calls itself "%s", but its configuration was read from %s, another host. LTI Dynamic Registration requires the two to match; nothing was registered.', 422)
export const RegistrationExpired = createError('TOOL_AUTH_REGISTRATION_EXPIRED',
  'This registration was already completed or has expired. Start it again from the platform\'s "register by URL" page.', 400)
export const RegistrationConflict = createError<[string]>('TOOL_AUTH_REGISTRATION_CONFLICT',
  'The platform "%s" is already in the tool\'s platforms file, which wins over registrations by URL. Edit that file instead, or remove the platform from it first.', 409)
export const RegistrationEndpointsChanged = createError<[string]>('TOOL_AUTH_REGISTRATION_ENDPOINTS_CHANGED',
  'The platform "%s" is already registered with another sign-in endpoint or key set. A registration cannot move a registered platform\'s keys; the tool\'s operator must remove it first (registrations remove), then register it again.', 409)
export const RegistrationRefused = createError<[string]>('TOOL_AUTH_REGISTRATION_REFUSED',
  'The platform did not accept the tool\'s registration (%s). Nothing was stored; start the registration again from the platform (its registration token may have expired).', 422)
export const RegistrationNamespaceTaken = createError<[string, string]>('TOOL_AUTH_REGISTRATION_NAMESPACE_TAKEN',
  'The usernames of this platform could be the same as those of the platform "%s" (%s), so one person of each could share a hub account. Choose another text before (or after) every username, then confirm again; nothing was registered.', 409)

// Rosters (NRPS). These are recorded in a sync's outcome and printed by the
// operator's command; the 5xx ones keep their message there (the kit hides it only in replies).
export const RosterSyncOff = createError<[string]>('TOOL_AUTH_ROSTER_SYNC_OFF',
  'Roster sync is off for the platform %s. Set ROSTER_SYNC=true, or roster_sync: true in its PLATFORMS_FILE entry.', 409)
export const RosterCourseUnknown = createError('TOOL_AUTH_ROSTER_COURSE_UNKNOWN',
  'No launch from this course has told the tool where its roster is (the NRPS claim). Launch the tool once from the course, then sync again.', 404)
export const RosterSyncBusy = createError<[string, number]>('TOOL_AUTH_ROSTER_SYNC_BUSY',
  'This course\'s roster %s; try again in %s seconds.', 429)
export const RosterNotStaff = createError<[string]>('TOOL_AUTH_ROSTER_NOT_STAFF',
  'Only the course\'s staff (by the role of their latest launch in %s) may sync its roster.', 403)
export const RosterNoLaunch = createError<[string]>('TOOL_AUTH_ROSTER_NO_LAUNCH',
  'No launch of yours is known for %s. Launch the tool from the course, then ask again (name the course when your server is not the course\'s).', 403)
export const RosterNeverSynced = createError('TOOL_AUTH_ROSTER_NEVER_SYNCED',
  'This course\'s roster has not been synced yet (or its outcome has expired).', 404)
export const RosterPlatformRefused = createError<[string]>('TOOL_AUTH_ROSTER_PLATFORM_REFUSED',
  'The platform refused to give the course roster: %s. Check that the tool\'s registration on the platform has the Names and Role Provisioning service enabled.', 502)
export const RosterPlatformUnavailable = createError<[string]>('TOOL_AUTH_ROSTER_PLATFORM_UNAVAILABLE',
  'The platform did not give the course roster: %s. The next sync tries again.', 503)
export const RosterPlatformInvalid = createError<[string]>('TOOL_AUTH_ROSTER_PLATFORM_INVALID',
  'The platform\'s course roster cannot be read: %s.', 502)
export const RosterBrokerRefused = createError<[string]>('TOOL_AUTH_ROSTER_BROKER_REFUSED',
  'The broker did not apply the roster (%s); the broker\'s log says why.', 502)
export const RosterBrokerUnavailable = createError<[string]>('TOOL_AUTH_ROSTER_BROKER_UNAVAILABLE',
  'The broker or its hub could not be reached to apply the roster (%s). The next sync tries again.', 503)

// LTI Advantage services: platform tokens and the scores API for notebooks.
// A platform's refusal is a 422 (not a 502): the kit hides the message of a
// 5xx, and the operator must read the platform's own error.
export const PlatformTokenRefused = createError<[string, string]>('TOOL_AUTH_PLATFORM_TOKEN_REFUSED',
  'The platform "%s" refused the tool an access token for its grade and roster services: %s. Check the tool\'s registration there (client id, the tool\'s key set URL, the scopes granted) and token_url/token_audience here.', 422)
export const PlatformServiceRefused = createError<[string]>('TOOL_AUTH_PLATFORM_SERVICE_REFUSED',
  'The platform refused the request: %s.', 422)
export const PlatformUnavailable = createError<[string]>('TOOL_AUTH_PLATFORM_UNAVAILABLE',
  'The platform cannot be reached right now (%s). Try again shortly.', 503)
export const PlatformServicesOff = createError<[string]>('TOOL_AUTH_PLATFORM_SERVICES_OFF',
  'The platform "%s" has no token_url in the tool\'s configuration, so the tool cannot use its grade or roster services. Add the platform\'s token URL (token_url) to its registration.', 409)
export const ScoresOff = createError('TOOL_AUTH_SCORES_OFF',
  'The scores API is off: the tool has no HUB_API_URL to check a notebook\'s token with.', 404)
export const HubTokenMissing = createError('TOOL_AUTH_HUB_TOKEN_MISSING',
  'Send the notebook server\'s own token: Authorization: token <JUPYTERHUB_API_TOKEN>.', 401)
export const HubTokenInvalid = createError('TOOL_AUTH_HUB_TOKEN_INVALID',
  'The hub does not know this token (or it has expired). Send the running notebook server\'s JUPYTERHUB_API_TOKEN.', 401)
export const HubUnavailable = createError<[string]>('TOOL_AUTH_HUB_UNAVAILABLE',
  'The hub cannot check the token right now (%s). Try again shortly.', 503)
export const ScoreNotFromServer = createError('TOOL_AUTH_SCORE_NOT_FROM_SERVER',
  'This token belongs to no single notebook server of a user (a user\'s or service\'s own token). Send scores from the notebook server of the course, with its JUPYTERHUB_API_TOKEN.', 403)
export const ScoreNoLaunch = createError<[string]>('TOOL_AUTH_SCORE_NO_LAUNCH',
  'No launch of yours is known for this course (%s). Launch the tool from the course in the learning platform again, then send the score.', 403)
export const ScoreCourseMismatch = createError<[string, string]>('TOOL_AUTH_SCORE_COURSE_MISMATCH',
  'This notebook server belongs to the course %s, not %s. A server sends scores for its own course only.', 403)
export const ScoreNotStaff = createError('TOOL_AUTH_SCORE_NOT_STAFF',
  'Only the course\'s staff (by their role in the latest launch) may send a score for another user.', 403)
export const ScoreUserUnknown = createError<[string]>('TOOL_AUTH_SCORE_USER_UNKNOWN',
  'The user "%s" has no launch known to the tool in this course (from this platform). A score can be sent only for someone who has launched the tool from the course.', 403)
export const ScoreInvalid = createError<[string]>('TOOL_AUTH_SCORE_INVALID',
  'This score cannot be sent: %s.', 400)
export const ScoreNoGradeService = createError<[string]>('TOOL_AUTH_SCORE_NO_GRADE_SERVICE',
  'The course\'s launch offers no grade service for this score: %s. The platform must grant the tool Assignment and Grade Services (see the operator guide), and the learner must launch again.', 409)
export const ScoreUnknown = createError('TOOL_AUTH_SCORE_UNKNOWN',
  'No score of yours has this id (or its record has expired).', 404)
