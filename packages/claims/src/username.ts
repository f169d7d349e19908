/**
 * The hub username of a launch, by jupyterhub/ltiauthenticator's rules, so a
 * hub that moves from LTI13Authenticator to ltilaunch keeps its usernames
 * (its `username_key` setting means the same here).
 */
import { LTI_CLAIM } from './claims.js'

/** The claim used when the configured one is empty or missing (privacy mode). */
export const USERNAME_FALLBACK_CLAIM = 'sub'

/** The default `username_key`, as in ltiauthenticator. */
export const DEFAULT_USERNAME_KEY = 'email'

/** `username_key` values with this prefix read from the custom claim. */
export const CUSTOM_USERNAME_PREFIX = 'custom_'

/** No username could be derived from the launch: neither the key nor `sub` has a value. */
export class UsernameError extends Error {
  readonly code = 'LTI_USERNAME_MISSING'
  /** The `username_key` that was tried. */
  readonly key: string

  constructor (key: string) {
    super(
      `The launch has no value for the username key "${key}" and no "${USERNAME_FALLBACK_CLAIM}" claim ` +
      'to fall back on (an anonymous launch?). Set username_key to a claim that this platform sends, ' +
      'or have the platform send the user\'s identity.'
    )
    this.name = 'UsernameError'
    this.key = key
  }
}

/** A usable username value: a non-empty trimmed string, or a finite number as a string. */
function usable (value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string') {
    const trimmed = value.trim()
    return trimmed === '' ? undefined : trimmed
  }
  return undefined
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Derives the username from verified id_token claims.
 *
 * - `key` (ltiauthenticator's `username_key`) defaults to `email`; an empty
 *   key means `sub`;
 * - a key starting with `custom_` reads the rest of the name from the custom
 *   claim (`custom_image_user` → `claims[LTI_CLAIM.custom].image_user`);
 * - any other key reads the top-level claim (`sub`, `name`, `given_name`,
 *   a vendor claim URI);
 * - numbers become strings, strings are trimmed;
 * - an empty, missing or non-string value falls back to `sub`; if `sub` has
 *   no value either, a {@link UsernameError} is thrown.
 *
 * The value is returned as the platform sent it (trimmed); JupyterHub
 * normalizes usernames itself.
 */
export function usernameFromClaims (claims: Record<string, unknown>, key: string = DEFAULT_USERNAME_KEY): string {
  const wanted = typeof key === 'string' && key.trim() !== '' ? key.trim() : USERNAME_FALLBACK_CLAIM
  let source: unknown = claims
  let name = wanted
  if (wanted.startsWith(CUSTOM_USERNAME_PREFIX)) {
    source = claims[LTI_CLAIM.custom]
    name = wanted.slice(CUSTOM_USERNAME_PREFIX.length)
  }
  const value = isRecord(source) && Object.hasOwn(source, name) ? usable(source[name]) : undefined
  if (value !== undefined) return value
  const sub = usable(claims[USERNAME_FALLBACK_CLAIM])
  if (sub !== undefined) return sub
  throw new UsernameError(wanted)
}
