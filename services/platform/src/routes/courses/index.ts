import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { classifyRoles } from '@ltilaunch/claims'
import { html, page } from '@ltilaunch/service-kit'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CsrfFailed, DeepLinkingNotConfigured, DeepLinkStaffOnly, LaunchInvalid, SignInRequired, UnknownCourse, UnknownLink, UnknownTool } from '../../errors.js'
import { randomToken, tokensMatch } from '../../lib/csrf.js'
import { courseLinksKey, deepLinkingClaims, pendingDeepLinkKey, type CourseLink, type PendingDeepLink } from '../../lib/deep-linking.js'
import { lineItemsMap, scoresMap, type LineItem, type ScoreRecord } from '../../lib/services.js'
import type { Course, DirectoryUser } from '../../lib/users.js'
import type { Session } from '../../plugins/sessions.js'
import { launcherOf } from '../launch/index.js'

const Id = Type.String({ minLength: 1, maxLength: 255 })
const CourseParams = Type.Object({ course: Id })
const LinkParams = Type.Object({ course: Id, link: Type.String({ minLength: 1, maxLength: 64 }) })
const CsrfBody = Type.Object({ csrf: Type.String({ maxLength: 200 }) })
const DeepLinkBody = Type.Object({ csrf: Type.String({ maxLength: 200 }), client_id: Id })

interface Member {
  session: Session
  user: DirectoryUser
  course: Course
  roles: string[]
  isStaff: boolean
}

/**
 * A course's page: the links its staff added with a tool's picker (Deep
 * Linking), each with a Launch button; staff add links here and remove them.
 * A learner launches exactly what the link holds: its tool, URL and custom
 * parameters (such as `image`).
 */
const coursePages: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry, sessions, launches, store, config, ltiServices } = fastify
  // Launch buttons must not be framed by another site (clickjacking); set
  // before the route runs, so that the kit merges it into its policy.
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.header('x-frame-options', 'DENY')
    reply.header('content-security-policy', "frame-ancestors 'none'")
  })

  /** The signed-in demo user's membership of a course; in course terms, its context roles decide staff. */
  const member = async (request: FastifyRequest, courseId: string): Promise<Member> => {
    const session = await sessions.current(request)
    const user = session?.kind === 'user' ? registry.user(session.userId) : undefined
    if (session === undefined || user === undefined) throw new SignInRequired()
    const roles = user.courses[courseId]
    const course = registry.course(courseId)
    if (roles === undefined || course === undefined) throw new UnknownCourse(courseId)
    return { session, user, course, roles, isStaff: classifyRoles(roles).isStaff }
  }

  const linksOf = async (courseId: string): Promise<CourseLink[]> =>
    Object.values(await store.mapAll<CourseLink>(courseLinksKey(courseId))).sort((a, b) => a.createdAt.localeCompare(b.createdAt))

  /** The gradebook rows a member may see: every score for staff, their own for a learner. */
  const gradebookOf = async (courseId: string, viewer: { sub: string, isStaff: boolean }) => {
    const [items, scores, members] = await Promise.all([
      store.mapAll<LineItem>(lineItemsMap(courseId)),
      store.mapAll<ScoreRecord>(scoresMap(courseId)),
      ltiServices.members(courseId)
    ])
    return Object.values(scores)
      .filter((score) => viewer.isStaff || score.userId === viewer.sub)
      .flatMap((score) => {
        const item = items[score.lineItemId]
        if (item === undefined) return []
        const member = members.find((candidate) => candidate.sub === score.userId)
        return [{ learner: member?.name ?? member?.localId.replace(/^api:/, '') ?? score.userId, item: item.label, score }]
      })
      .sort((a, b) => a.item.localeCompare(b.item) || a.learner.localeCompare(b.learner))
  }

  fastify.get('/courses/:course', { schema: { params: CourseParams, querystring: Type.Object({ added: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }) } }, async (request, reply) => {
    let who: Member
    try {
      who = await member(request, request.params.course)
    } catch (err) {
      if (err instanceof SignInRequired) return await reply.redirect('/login', 303)
      throw err
    }
    const { session, course, isStaff, user } = who
    const links = await linksOf(course.id)
    const grades = await gradebookOf(course.id, { sub: user.sub ?? registry.subjectFor(user.id), isStaff })
    const number = (value: number): string => String(Math.round(value * 100) / 100)
    const tools = await registry.allTools()
    const pickers = tools.filter((tool) => tool.deepLinkingUrl !== undefined)
    const toolName = (clientId: string): string => tools.find((tool) => tool.clientId === clientId)?.name ?? clientId
    const added = request.query.added
    reply.header('cache-control', 'no-store')
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `${course.title ?? course.id} · ${config.PLATFORM_NAME}`,
      body: html`<h1>${course.title ?? course.id}${course.label === undefined ? '' : ` (${course.label})`}</h1>
<p><a href="/">Back to ${config.PLATFORM_NAME}</a></p>
${added === undefined ? '' : html`<p class="notice">${added === 1 ? 'One link was added.' : `${added} links were added.`}</p>`}
<h2>Notebook links</h2>
${links.length === 0
  ? html`<p class="hint">${isStaff ? 'No link yet: add one below.' : 'Your instructor has not added a notebook link yet.'}</p>`
  : html`<ul class="links">${links.map((link) => html`<li><strong>${link.title}</strong> <span class="hint">(${toolName(link.clientId)})</span>${link.text === undefined ? '' : html`<br>${link.text}`}
<form method="post" action="/courses/${encodeURIComponent(course.id)}/links/${link.id}/launch"><input type="hidden" name="csrf" value="${session.csrf}"><button type="submit">Launch</button></form>
${isStaff ? html`<form method="post" action="/courses/${encodeURIComponent(course.id)}/links/${link.id}/delete"><input type="hidden" name="csrf" value="${session.csrf}"><button type="submit">Remove</button></form>` : ''}</li>`)}</ul>`}
<h2>${isStaff ? 'Gradebook' : 'Your grades'}</h2>
${grades.length === 0
  ? html`<p class="hint">${isStaff ? 'No tool has sent a score for this course yet.' : 'No score has been sent for you yet.'}</p>`
  : html`<table class="gradebook"><thead><tr>${isStaff ? html`<th>Learner</th>` : ''}<th>Item</th><th>Score</th><th>Progress</th><th>Time</th></tr></thead>
<tbody>${grades.map(({ learner, item, score }) => html`<tr>${isStaff ? html`<td>${learner}</td>` : ''}<td>${item}</td><td>${score.scoreGiven === undefined ? '—' : `${number(score.scoreGiven)} / ${number(score.scoreMaximum ?? 0)}`}</td><td>${score.activityProgress}, ${score.gradingProgress}</td><td><time datetime="${score.timestamp}">${score.timestamp.replace('T', ' ').replace(/\.\d+/, '')}</time></td></tr>`)}</tbody></table>`}
${isStaff && pickers.length > 0
  ? html`<h2>Add a notebook link</h2>
<form method="post" action="/courses/${encodeURIComponent(course.id)}/deep-link">
<input type="hidden" name="csrf" value="${session.csrf}">
<label for="client_id">Tool</label>
<select id="client_id" name="client_id">${pickers.map((tool) => html`<option value="${tool.clientId}">${tool.name}</option>`)}</select>
<p><button type="submit">Add a notebook link</button></p>
</form>`
  : ''}`
    }))
  })

  // Staff open the tool's picker: an LtiDeepLinkingRequest, bound to its answer by `data`.
  fastify.post('/courses/:course/deep-link', { schema: { params: CourseParams, body: DeepLinkBody } }, async (request, reply) => {
    const { session, user, course, roles, isStaff } = await member(request, request.params.course)
    if (!tokensMatch(session.csrf, request.body.csrf)) throw new CsrfFailed()
    if (!isStaff) throw new DeepLinkStaffOnly()
    const tool = await registry.tool(request.body.client_id)
    if (tool === undefined) throw new UnknownTool(request.body.client_id)
    if (tool.deepLinkingUrl === undefined) throw new DeepLinkingNotConfigured(tool.name)
    const deploymentId = tool.deploymentIds[0] as string
    const sub = user.sub ?? registry.subjectFor(user.id)
    const data = randomToken()
    let claims: Record<string, unknown>
    try {
      claims = deepLinkingClaims({
        tool,
        deploymentId,
        user: launcherOf(user, sub),
        roles: [...roles, ...user.roles],
        context: course,
        resourceLink: { id: `${course.id}:${tool.clientId}:deep-link` },
        returnUrl: `${config.publicUrl}/courses/${encodeURIComponent(course.id)}`
      }, registry.identity, { returnUrl: `${config.publicUrl}/lti/deep-link-return`, data })
    } catch (err) {
      throw new LaunchInvalid((err as Error).message)
    }
    const pending: PendingDeepLink = { clientId: tool.clientId, deploymentId, courseId: course.id, userId: user.id }
    request.log.info({ clientId: tool.clientId, course: course.id }, 'deep linking request started')
    return await launches.beginPrepared(reply, { tool, deploymentId, sub, targetLinkUri: tool.deepLinkingUrl, claims }, session.id,
      [{ op: 'set', key: pendingDeepLinkKey(data), value: pending, ttlSeconds: config.DEEP_LINK_TTL }])
  })

  // A member launches a stored link: its tool, URL and custom parameters, with their own identity and roles.
  fastify.post('/courses/:course/links/:link/launch', { schema: { params: LinkParams, body: CsrfBody } }, async (request, reply) => {
    const { session, user, course, roles } = await member(request, request.params.course)
    if (!tokensMatch(session.csrf, request.body.csrf)) throw new CsrfFailed()
    const link = await store.mapGet<CourseLink>(courseLinksKey(course.id), request.params.link)
    if (link === undefined) throw new UnknownLink()
    const tool = await registry.tool(link.clientId)
    if (tool === undefined) throw new UnknownTool(link.clientId)
    const deploymentId = tool.deploymentIds.includes(link.deploymentId) ? link.deploymentId : tool.deploymentIds[0] as string
    return await launches.begin(reply, {
      tool: { ...tool, targetLinkUri: link.url ?? tool.targetLinkUri },
      deploymentId,
      user: launcherOf(user, user.sub ?? registry.subjectFor(user.id)),
      roles: [...roles, ...user.roles],
      context: course,
      resourceLink: { id: link.id, title: link.title },
      custom: link.custom,
      returnUrl: `${config.publicUrl}/courses/${encodeURIComponent(course.id)}`
    }, session.id)
  })

  fastify.post('/courses/:course/links/:link/delete', { schema: { params: LinkParams, body: CsrfBody } }, async (request, reply) => {
    const { session, course, isStaff } = await member(request, request.params.course)
    if (!tokensMatch(session.csrf, request.body.csrf)) throw new CsrfFailed()
    if (!isStaff) throw new DeepLinkStaffOnly()
    if (!await store.mapDelete(courseLinksKey(course.id), request.params.link)) throw new UnknownLink()
    return await reply.redirect(`/courses/${encodeURIComponent(course.id)}`, 303)
  })
}

export default coursePages
