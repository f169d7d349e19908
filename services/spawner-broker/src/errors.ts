import createError from '@fastify/error'

/** Every error the broker answers with; codes are stable, messages say what to do. */

export const Unauthorized = createError(
  'BROKER_UNAUTHORIZED',
  'A valid service token is required (Authorization: Bearer <BROKER_SERVICE_TOKEN>).',
  401
)

export const MissingIdempotencyKey = createError(
  'BROKER_INVALID_REQUEST',
  'The Idempotency-Key header is required (an opaque key of at most 200 characters, the same when a request is repeated).',
  400
)

export const IdempotencyConflict = createError(
  'BROKER_IDEMPOTENCY_CONFLICT',
  'This Idempotency-Key was already used for a different launch; use a new key for a new launch.',
  409
)

export const ImageNotAllowed = createError<[string]>('BROKER_IMAGE_NOT_ALLOWED', '%s', 422)

export const LaunchNotFound = createError(
  'BROKER_LAUNCH_NOT_FOUND',
  'There is no such launch, or it has expired. Start again from your course.',
  404
)

export const RetryNotAllowed = createError<[string]>('BROKER_RETRY_NOT_ALLOWED', '%s', 409)

export const CrossSiteRequest = createError(
  'BROKER_CROSS_SITE_REQUEST',
  'This form must be sent from the launch page itself. Reload the page and press the button again.',
  403
)

export const QueueUnavailable = createError<[string]>(
  'BROKER_QUEUE_UNAVAILABLE',
  'The launch queue is not answering (%s). Try again in a few seconds.',
  503
)

export const RosterNeedsHub = createError(
  'BROKER_ROSTER_NEEDS_HUB',
  'Rosters are applied to a real hub: this broker runs SPAWN_DRIVER=dry-run. Set HUB_URL and HUB_API_TOKEN.',
  409
)

export const RosterHubRefused = createError<[string]>(
  'BROKER_ROSTER_HUB_REFUSED',
  '%s. The broker\'s hub token needs the scopes admin:users and admin:groups (or list:users, read:groups, admin:groups); see the operator guide.',
  502
)

export const RosterHubUnavailable = createError<[string]>(
  'BROKER_ROSTER_HUB_UNAVAILABLE',
  'The hub did not answer (%s). The roster was not applied in full; send it again (it is idempotent).',
  503
)

export const RosterUsernameRefused = createError<[string, string]>(
  'BROKER_ROSTER_USERNAME_REFUSED',
  'The roster names %s, which JupyterHub would refuse: %s.',
  400
)
