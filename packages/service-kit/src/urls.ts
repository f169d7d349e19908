/**
 * Whether a value is an http(s) URL without credentials: the only kind a
 * service redirects or posts a browser to, or fetches from a peer (a
 * javascript: or data: URL would run on our origin; user:password@ in a URL
 * hides where it really goes).
 */
export function isHttpUrl (value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
  } catch {
    return false
  }
}
