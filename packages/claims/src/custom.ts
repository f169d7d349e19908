/**
 * The custom claim, flattened to strings.
 *
 * LTI 1.3 says custom values are strings, but platforms send numbers,
 * booleans and even objects (Canvas substitutions such as
 * `$Canvas.course.id`). JupyterHub's `user_options` and the broker want
 * strings, so everything downstream uses this one flattened view.
 */
import { LTI_CLAIM } from './claims.js'

/** Custom keys with a meaning in ltilaunch; the same as the MIT Learn proof of concept. */
export const CUSTOM_KEY = {
  /** The notebook image the launch asks for. */
  image: 'image',
  /** The course name, used to name the server. */
  courseName: 'course_name'
} as const

function asString (value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value)
    case 'object':
      return value === null ? undefined : JSON.stringify(value)
    default:
      return undefined
  }
}

/**
 * The custom claim object itself made into `Record<string, string>`: strings
 * kept as sent, numbers and booleans through `String`, objects and arrays as
 * JSON, null and undefined dropped. A missing or non-object value gives `{}`.
 */
export function stringifyCustom (custom: unknown): Record<string, string> {
  if (typeof custom !== 'object' || custom === null || Array.isArray(custom)) return {}
  const entries: Array<[string, string]> = []
  for (const [key, value] of Object.entries(custom)) {
    const text = asString(value)
    if (text !== undefined) entries.push([key, text])
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(entries)
}

/**
 * The custom parameters of a launch: reads the custom claim of the id_token
 * payload (`claims`) and makes every value a string (see
 * {@link stringifyCustom}). A payload without a custom claim gives `{}`.
 */
export function customParams (claims: unknown): Record<string, string> {
  if (typeof claims !== 'object' || claims === null) return {}
  return stringifyCustom((claims as Record<string, unknown>)[LTI_CLAIM.custom])
}
