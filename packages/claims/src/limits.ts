/**
 * How large a launch can be, on both sides of it.
 *
 * The id_token travels in a form that the browser posts to the tool
 * (response_mode=form_post): `id_token=<JWS>&state=<state>`. A compact JWS is
 * base64url text, which form encoding leaves as it is, so the body is the
 * token's length plus a few hundred bytes. tool-auth refuses a larger body
 * with 413, one hop after the platform could have said so; the platform
 * therefore bounds what it signs by these numbers, and tool-auth's callback
 * accepts exactly ID_TOKEN_FORM_POST_LIMIT.
 */

/** The largest body tool-auth's callback (`/lti13/oauth_callback`, `/lti13/launch`) accepts, in bytes: 1 MiB. */
export const ID_TOKEN_FORM_POST_LIMIT = 1024 * 1024

/** Room in that body for everything but the token: the field names, `state`, and what a platform adds. */
const FORM_POST_OVERHEAD = 16 * 1024

/** The longest id_token (compact JWS, in characters) that fits in the callback's body with room to spare. */
export const ID_TOKEN_MAX_LENGTH = ID_TOKEN_FORM_POST_LIMIT - FORM_POST_OVERHEAD

/** Room in the JWS for the header, the two dots and the signature (RS512 with a 4096-bit key: 683 characters). */
const JWS_OVERHEAD = 4 * 1024

/**
 * The largest payload, as UTF-8 bytes of its JSON, that the platform signs:
 * base64url makes 4 characters of every 3 bytes, so this payload, signed,
 * stays within ID_TOKEN_MAX_LENGTH.
 */
export const ID_TOKEN_PAYLOAD_MAX_BYTES = Math.floor((ID_TOKEN_MAX_LENGTH - JWS_OVERHEAD) * 3 / 4)

/** At most this many custom parameters in one launch. */
export const CUSTOM_MAX_PARAMS = 100

/** A custom parameter's name: at most this many characters. */
export const CUSTOM_KEY_MAX_LENGTH = 255

/** A custom parameter's value: at most this many characters. */
export const CUSTOM_VALUE_MAX_LENGTH = 8192

/**
 * The whole custom claim, as UTF-8 bytes of its JSON (escapes included):
 * 64 KiB, under a tenth of ID_TOKEN_PAYLOAD_MAX_BYTES (about 750 KiB). The
 * rest is room for the other claims: roles, names, context, resource link,
 * presentation.
 */
export const CUSTOM_MAX_BYTES = 64 * 1024

const utf8 = new TextEncoder()

/** Bytes of a value as JSON in UTF-8: what it adds to the id_token payload before base64url. */
export function jsonBytes (value: unknown): number {
  return utf8.encode(JSON.stringify(value) ?? '').length
}

/**
 * Why this custom claim cannot travel in a launch, or undefined when it
 * can: too many parameters, a name or a value too long, or the whole too
 * large once encoded. The message names the limit.
 */
export function customClaimProblem (custom: Record<string, string>): string | undefined {
  const entries = Object.entries(custom)
  if (entries.length > CUSTOM_MAX_PARAMS) {
    return `it has ${entries.length} custom parameters; at most ${CUSTOM_MAX_PARAMS} are allowed`
  }
  for (const [key, value] of entries) {
    if (key.length > CUSTOM_KEY_MAX_LENGTH) {
      return `the custom parameter name "${key.slice(0, 40)}…" has ${key.length} characters; at most ${CUSTOM_KEY_MAX_LENGTH} are allowed`
    }
    if (value.length > CUSTOM_VALUE_MAX_LENGTH) {
      return `the custom parameter "${key}" has ${value.length} characters; at most ${CUSTOM_VALUE_MAX_LENGTH} are allowed`
    }
  }
  const bytes = jsonBytes(custom)
  if (bytes > CUSTOM_MAX_BYTES) {
    return `its custom parameters take ${bytes} bytes as JSON; at most ${CUSTOM_MAX_BYTES} fit in a launch (the id_token is form-posted to the tool, whose limit is ${ID_TOKEN_FORM_POST_LIMIT} bytes)`
  }
  return undefined
}
