import formbody from '@fastify/formbody'
import Fastify from 'fastify'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import type { Test } from 'tap'

export const NRPS_TOKEN = 'nrps-access-token-0123456789'
export const NRPS_ACCEPT = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json'

export interface FakeNrps {
  /** The context_memberships_url of the course. */
  url: string
  /** The platform's OAuth2 token URL (client credentials with a signed JWT assertion). */
  tokenUrl: string
  /** The tool's public keys, to verify its client assertions with (set once the app is built). */
  toolJwks?: JSONWebKeySet
  /** Access tokens the token endpoint hands out, in turn (the last one again when they run out). */
  tokens: string[]
  /** Every token request: the verified assertion's claims and the scope, or why it was refused. */
  tokenRequests: Array<{ scope?: string, claims?: Record<string, unknown>, refused?: string }>
  /** When set, the token endpoint refuses with this OAuth error. */
  refuseToken?: string
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
  await server.register(formbody)
  const nrps: FakeNrps = { url: '', tokenUrl: '', tokens: [NRPS_TOKEN], tokenRequests: [], requests: [], members: [], pageSize: 2 }
  let issued = 0
  // LTI Security Framework 4.1: client_credentials with a JWT assertion signed by the tool.
  server.post('/token', async (request, reply) => {
    const form = request.body as Record<string, string>
    if (nrps.refuseToken !== undefined) {
      nrps.tokenRequests.push({ refused: nrps.refuseToken })
      return await reply.code(400).send({ error: nrps.refuseToken, error_description: 'the tool is not allowed this scope' })
    }
    if (form.grant_type !== 'client_credentials' || form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || nrps.toolJwks === undefined) {
      nrps.tokenRequests.push({ refused: 'invalid_request' })
      return await reply.code(400).send({ error: 'invalid_request' })
    }
    try {
      const { payload } = await jwtVerify(form.client_assertion ?? '', createLocalJWKSet(nrps.toolJwks), { audience: nrps.tokenUrl })
      if (payload.iss !== payload.sub) throw new Error('iss is not sub')
      nrps.tokenRequests.push({ scope: form.scope, claims: payload as Record<string, unknown> })
    } catch (err) {
      nrps.tokenRequests.push({ refused: (err as Error).message })
      return await reply.code(401).send({ error: 'invalid_client' })
    }
    const token = nrps.tokens[Math.min(issued++, nrps.tokens.length - 1)]
    return { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: form.scope }
  })
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
  const base = `http://127.0.0.1:${(server.addresses()[0] as { port: number }).port}`
  nrps.url = `${base}/api/lti/courses/course-42/names_and_roles`
  nrps.tokenUrl = `${base}/token`
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
