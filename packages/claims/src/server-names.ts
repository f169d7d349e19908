import { createHash } from 'node:crypto'
import type { NameSpace } from './hub-names.js'

/*
 * The names the broker gives a launch's server and course group on the hub.
 * Shared: tool-auth finds the course of a server (scores) by the same names.
 */

const SIMPLE = /^[a-z][a-z0-9]{0,29}$/

function hash8 (value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8)
}

function alnumStem (value: string, max: number): string {
  let stem = value.toLowerCase().replace(/[^a-z0-9]/g, '')
  if (!/^[a-z]/.test(stem)) stem = `c${stem}`
  return stem.slice(0, max)
}

/**
 * A server name the hub accepts, from any text (a course label or id).
 * JupyterHub 5 refuses new named servers whose name is not a "safe slug"
 * (lowercase letters and digits, single hyphens, at most 30 characters,
 * starting with a letter); older hubs accept letters and digits or a stem, a
 * hyphen and a hash. A simple name is kept as it is; anything else becomes
 * `<letters and digits>-<8 hex of its hash>`, valid for both and distinct
 * for distinct inputs, as JupyterHub's own safe_slug does.
 */
export function safeServerName (value: string): string {
  if (SIMPLE.test(value)) return value
  return `${alnumStem(value, 21)}-${hash8(value)}`
}

/** A course's name inside its platform's namespace: the label (else the id) with the namespace around it. */
function courseSource (course: { id: string, label?: string }, namespace: NameSpace | undefined): string {
  const name = course.label?.trim() || course.id
  return namespace === undefined ? name : `${namespace.prefix}${name}${namespace.suffix}`
}

/**
 * The server of a launch: named after its course when named servers are on,
 * else the default (''). The platform's namespace goes into the name, so
 * that courses of two platforms never share a server name.
 */
export function serverNameFor (course: { id: string, label?: string } | undefined, named: boolean, namespace?: NameSpace): string {
  if (!named || !course) return ''
  return safeServerName(courseSource(course, namespace))
}

/** Another name for the same course with a different image (ON_IMAGE_CHANGE=new-server). */
export function variantServerName (base: string, image: string): string {
  return `${alnumStem(base || 'server', 21)}-${hash8(`${base}\n${image}`)}`
}

/** A hub group name for a course, inside its platform's namespace. */
export function courseGroupName (course: { id: string, label?: string }, namespace?: NameSpace): string {
  return `course-${safeServerName(courseSource(course, namespace))}`
}

/**
 * A user or server name as JupyterHub writes it in URLs: Python's
 * `quote(name, safe='@~')`. encodeURIComponent differs on `@` (which the hub
 * keeps, so `/user/ada@example.edu/` is the server's real base URL) and on
 * `!'()*` (which Python escapes).
 */
export function hubUrlSegment (name: string): string {
  return encodeURIComponent(name)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%40', '@')
}
