/**
 * Paging of the service containers (AGS line items and results, NRPS
 * memberships): `limit` and `offset` in the query, and a `Link` header with
 * rel="next" while more follow (RFC 8288, as AGS 2.0 and NRPS 2.0 ask).
 */
import type { FastifyRequest } from 'fastify'

export function paged<T> (all: T[], request: FastifyRequest, url: string): { items: T[], link?: string } {
  const query = request.query as { limit?: number, offset?: number }
  const offset = query.offset ?? 0
  const limit = query.limit
  if (limit === undefined) return { items: all.slice(offset) }
  const items = all.slice(offset, offset + limit)
  if (offset + limit >= all.length) return { items }
  // The next page repeats the request's own filters.
  const next = new URL(url)
  for (const [name, value] of Object.entries(request.query as Record<string, unknown>)) {
    if (value !== undefined && name !== 'offset') next.searchParams.set(name, String(value))
  }
  next.searchParams.set('offset', String(offset + limit))
  return { items, link: `<${next.toString()}>; rel="next"` }
}
