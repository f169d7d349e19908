import Fastify from 'fastify'
import type { Test } from 'tap'

export const NRPS_TOKEN = 'nrps-access-token-0123456789'
export const NRPS_ACCEPT = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json'

export interface FakeNrps {
  /** The context_memberships_url of the course. */
  url: string
  /** Every request: its path, Accept and Authorization. */
  requests: Array<{ url: string, accept: string | undefined, authorization: string | undefined }>
  /** The members of the course, served `pageSize` at a time with Link rel="next". */
  members: Array<Record<string, unknown>>
  pageSize: number
  /** A status to answer every request with instead (401, 403, 500), with a body. */
  fail?: number
  /** A next link to send from the first page instead of ours (another origin). */
  nextOverride?: string
  /** When set, the first page waits for it before answering. */
  gate?: Promise<void>
}

/** A platform's NRPS 2.0 memberships endpoint, over real HTTP, that checks the token and the media type. */
export async function startNrps (t: Test): Promise<FakeNrps> {
  const server = Fastify()
  const nrps: FakeNrps = { url: '', requests: [], members: [], pageSize: 2 }
  server.get('/api/lti/courses/:course/names_and_roles', async (request, reply) => {
    const authorization = request.headers.authorization
    nrps.requests.push({ url: request.url, accept: request.headers.accept, authorization })
    const page = Number((request.query as { page?: string }).page ?? '1')
    if (page === 1 && nrps.gate !== undefined) await nrps.gate
    if (nrps.fail !== undefined) return await reply.code(nrps.fail).send({ error: 'invalid_token', error_description: `answered ${nrps.fail}` })
    if (authorization !== `Bearer ${NRPS_TOKEN}`) return await reply.code(401).send({ error: 'invalid_token' })
    if (request.headers.accept !== NRPS_ACCEPT) return await reply.code(406).send({ error: 'not acceptable' })
    const start = (page - 1) * nrps.pageSize
    const members = nrps.members.slice(start, start + nrps.pageSize)
    if (start + nrps.pageSize < nrps.members.length) {
      const next = page === 1 && nrps.nextOverride !== undefined ? nrps.nextOverride : `${nrps.url}?page=${page + 1}`
      reply.header('link', `<${next}>; rel="next", <${nrps.url}?since=1>; rel="differences"`)
    }
    return await reply.type(NRPS_ACCEPT).send({
      id: nrps.url,
      context: { id: (request.params as { course: string }).course, label: 'DS101', title: 'Data Science 101' },
      members
    })
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  nrps.url = `http://127.0.0.1:${(server.addresses()[0] as { port: number }).port}/api/lti/courses/course-42/names_and_roles`
  return nrps
}

const MEMBERSHIP = 'http://purl.imsglobal.org/vocab/lis/v2/membership#'

/** A member as Canvas or Moodle sends it. */
export function member (userId: string, fields: { email?: string, roles?: string[], status?: string } = {}): Record<string, unknown> {
  return {
    user_id: userId,
    name: `User ${userId}`,
    roles: fields.roles ?? [`${MEMBERSHIP}Learner`],
    ...(fields.status === undefined ? {} : { status: fields.status }),
    ...(fields.email === undefined ? {} : { email: fields.email })
  }
}

export const INSTRUCTOR = `${MEMBERSHIP}Instructor`
