/**
 * What a span may say about a URL. The http and Fastify instrumentations
 * record the URL of every request, and in this system a path or a query can
 * be a capability: a launch id (/launches/<id>), a one-time ticket
 * (/launches/<ticket>, /lti13/resume/<ticket>), an OAuth code, a state, a
 * login or message hint. A span keeps the path with those segments masked and
 * never the query.
 */

/** Path segments that follow these are capabilities. */
const CAPABILITY_PATH = /\/(launches|resume)\/(?![[:])[^/?#\s]+/g

/** Attributes that hold a URL, a path or a target (path and query), by the semantic conventions old and new. */
const URL_ATTRIBUTES = new Set(['url.full', 'url.path', 'http.url', 'http.target', 'url.original'])
/** Attributes that hold only a query: dropped whole. */
const QUERY_ATTRIBUTES = new Set(['url.query'])

/** A URL or path with its query and fragment left out and its capability segments masked. */
export function redactUrl (value: string): string {
  const cut = value.search(/[?#]/)
  const bare = cut === -1 ? value : value.slice(0, cut)
  return bare.replace(CAPABILITY_PATH, '/$1/[id]')
}

/**
 * Free text (a span name, an error message) that may quote a URL: capability
 * segments masked, and the query of anything that looks like a URL or a path dropped.
 */
export function redactText (value: string): string {
  return value
    .replace(/((?:https?:\/\/|\/)[^\s?#"']*)[?#][^\s"']*/g, '$1')
    .replace(CAPABILITY_PATH, '/$1/[id]')
}

/** The value an attribute may keep; `undefined` when it is safe as it is. */
export function redactedAttribute (key: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  let safe: string
  if (QUERY_ATTRIBUTES.has(key)) safe = value === '' ? value : '[redacted]'
  else if (URL_ATTRIBUTES.has(key)) safe = redactUrl(value)
  else safe = redactText(value)
  return safe === value ? undefined : safe
}

/** A Redis command as a span shows it: its name alone, since keys hold state values, launch ids and codes. */
export function redisStatement (command: string): string {
  return command.toUpperCase()
}
