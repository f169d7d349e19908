/**
 * Reading a course's memberships with LTI Names and Role Provisioning
 * Services 2.0: the membership container at the launch's
 * `context_memberships_url`, page by page (`Link: <…>; rel="next"`), with a
 * platform access token for the contextmembership.readonly scope.
 */

export const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly'
export const NRPS_MEDIA_TYPE = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json'

/** One member as NRPS sends it; only what the roster reads is typed. */
export interface NrpsMember {
  user_id?: unknown
  roles?: unknown
  status?: unknown
  email?: unknown
  name?: unknown
  given_name?: unknown
  family_name?: unknown
  /** LTI message claims (custom parameters among them), sent when the request names a resource link. */
  message?: unknown
  [claim: string]: unknown
}

export interface NrpsPage {
  members: NrpsMember[]
  context?: { id?: unknown }
}

/** Why reading the memberships stopped; `status` is the platform's HTTP status, when it answered. */
export class NrpsError extends Error {
  constructor (message: string, readonly kind: 'refused' | 'unavailable' | 'invalid', readonly status?: number) {
    super(message)
    this.name = 'NrpsError'
  }
}

export interface NrpsReadOptions {
  token: string
  timeoutMs: number
  maxPages: number
  /** The largest page read, in bytes. */
  maxPageBytes: number
  signal?: AbortSignal
}

/** The `rel="next"` target of a Link header (RFC 8288), resolved against the page's URL. */
export function nextLink (header: string | null, base: string): string | undefined {
  if (header === null) return undefined
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part)
    if (match === null) continue
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? '')
    const rel = (rels?.[1] ?? rels?.[2] ?? '').toLowerCase().split(/\s+/)
    if (!rel.includes('next')) continue
    try {
      return new URL(match[1] ?? '', base).href
    } catch {
      return undefined
    }
  }
  return undefined
}

/**
 * The membership pages of a course, in order. The access token goes only to
 * the origin of the memberships URL: a next link to another origin, a
 * loop, or more than maxPages pages stop the read (`invalid`), as do a
 * 401/403 (`refused`) and an unreachable or failing platform (`unavailable`).
 */
export async function * readMemberships (url: string, options: NrpsReadOptions): AsyncGenerator<NrpsPage> {
  const origin = new URL(url).origin
  const seen = new Set<string>()
  let next: string | undefined = url
  while (next !== undefined) {
    if (seen.size >= options.maxPages) throw new NrpsError(`the roster has more than ${options.maxPages} pages (ROSTER_MAX_PAGES)`, 'invalid')
    if (seen.has(next)) throw new NrpsError('the platform\'s next page link points back to a page already read', 'invalid')
    seen.add(next)
    const page = await fetchPage(next, options)
    yield page.body
    next = page.next
    if (next !== undefined && new URL(next).origin !== origin) {
      throw new NrpsError(`the platform's next page link leaves ${origin}; the access token is not sent elsewhere`, 'invalid')
    }
  }
}

async function fetchPage (url: string, options: NrpsReadOptions): Promise<{ body: NrpsPage, next: string | undefined }> {
  let response: Response
  const signals = [AbortSignal.timeout(options.timeoutMs)]
  if (options.signal !== undefined) signals.push(options.signal)
  try {
    response = await fetch(url, {
      headers: { accept: NRPS_MEDIA_TYPE, authorization: `Bearer ${options.token}` },
      redirect: 'manual',
      signal: AbortSignal.any(signals)
    })
  } catch (err) {
    const error = err as Error & { cause?: { code?: string } }
    throw new NrpsError(error.name === 'TimeoutError' ? 'no answer in time' : error.cause?.code ?? error.message, 'unavailable')
  }
  const text = await readLimited(response, options.maxPageBytes)
  if (response.status === 401 || response.status === 403) {
    throw new NrpsError(`the platform refused the memberships request (${response.status}${describe(text)})`, 'refused', response.status)
  }
  if (response.status >= 500 || response.status === 429) {
    throw new NrpsError(`the platform answered ${response.status}${describe(text)}`, 'unavailable', response.status)
  }
  if (response.status !== 200) {
    throw new NrpsError(`the platform answered ${response.status}${describe(text)} to the memberships request`, 'refused', response.status)
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new NrpsError('the memberships page is not JSON', 'invalid', 200)
  }
  const members = (body as { members?: unknown } | null)?.members
  if (!Array.isArray(members)) throw new NrpsError('the memberships page has no "members" list', 'invalid', 200)
  const context = (body as { context?: unknown }).context
  return {
    body: {
      members: members.filter((m): m is NrpsMember => typeof m === 'object' && m !== null && !Array.isArray(m)),
      ...(typeof context === 'object' && context !== null ? { context: context as { id?: unknown } } : {})
    },
    next: nextLink(response.headers.get('link'), url)
  }
}

async function readLimited (response: Response, maxBytes: number): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > maxBytes) {
    await response.body?.cancel()
    throw new NrpsError(`a memberships page is larger than ${maxBytes} bytes`, 'invalid', response.status)
  }
  const chunks: Uint8Array[] = []
  let total = 0
  if (response.body !== null) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length
      if (total > maxBytes) {
        await response.body.cancel().catch(() => {})
        throw new NrpsError(`a memberships page is larger than ${maxBytes} bytes`, 'invalid', response.status)
      }
      chunks.push(chunk)
    }
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A short quote of the platform's error body, for the log and the outcome (never a token: we send those, platforms do not echo them). */
function describe (text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ')
  return trimmed === '' ? '' : `: ${trimmed.slice(0, 200)}`
}
