/**
 * The names a launch gives the hub: a platform's namespace applied to a
 * username or a course, and the rules a hub username must meet so that
 * the hub, the broker and every spawner accept it.
 *
 * A person is (issuer, sub): every name derived from a launch carries the
 * namespace of the platform that vouched for it, so that two platforms
 * cannot produce the same name unless the operator lets them.
 */

/** JupyterHub keeps usernames in a 255-character column. */
export const HUB_USERNAME_MAX_LENGTH = 255

/** A platform's namespace: literal text before and after every name it produces. */
export interface NameSpace {
  prefix: string
  suffix: string
}

export const NO_NAMESPACE: NameSpace = Object.freeze({ prefix: '', suffix: '' })

/** A name inside a namespace, lower-cased as JupyterHub normalizes usernames. */
export function namespaced (name: string, namespace: NameSpace = NO_NAMESPACE): string {
  return `${namespace.prefix}${name}${namespace.suffix}`.toLowerCase()
}

/** The hub group of a course (`course:<context id>`), inside the platform's namespace. */
export function courseGroup (contextId: string, namespace: NameSpace = NO_NAMESPACE): string {
  return `course:${namespace.prefix}${contextId}${namespace.suffix}`
}

/**
 * Whether two namespaces can produce the same name from two different
 * inputs: only when one prefix begins the other and one suffix ends the
 * other (compared as the hub compares names, lower-cased).
 */
export function namespacesOverlap (a: NameSpace, b: NameSpace): boolean {
  const [pa, pb, sa, sb] = [a.prefix, b.prefix, a.suffix, b.suffix].map((text) => text.toLowerCase()) as [string, string, string, string]
  const prefixes = pa.startsWith(pb) || pb.startsWith(pa)
  const suffixes = sa.endsWith(sb) || sb.endsWith(sa)
  return prefixes && suffixes
}

/**
 * Why the hub would refuse this username, or undefined when it accepts it.
 * JupyterHub's Authenticator.validate_username refuses empty names, a `/`
 * and surrounding white space; its database holds 255 characters; and a
 * control character cannot travel in the URLs (/user/<name>/) the hub
 * routes by.
 */
export function hubUsernameProblem (username: string): string | undefined {
  if (username === '') return 'it is empty'
  if (username.length > HUB_USERNAME_MAX_LENGTH) {
    return `it is ${username.length} characters long, and JupyterHub keeps at most ${HUB_USERNAME_MAX_LENGTH}`
  }
  if (username !== username.trim()) return 'it begins or ends with white space'
  if (username.includes('/')) return 'it contains "/", which JupyterHub cannot route (/user/<name>/)'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(username)) return 'it contains a control character'
  return undefined
}
