import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { classifyRoles } from '@ltilaunch/claims'
import { html, page, raw } from '@ltilaunch/service-kit'
import { Type } from 'typebox'
import { tokensMatch } from '../../lib/csrf.js'
import type { Launcher } from '../../lib/launch.js'
import type { DirectoryUser } from '../../lib/users.js'
import { isAdmin } from '../admin/tools.js'
import { CsrfFailed, ImageNotOffered, SignInRequired, UnknownCourse, UnknownTool } from '../../errors.js'

const LaunchBody = Type.Object({
  csrf: Type.String({ maxLength: 200 }),
  client_id: Type.String({ minLength: 1, maxLength: 255 }),
  course: Type.String({ minLength: 1, maxLength: 255 }),
  image: Type.Optional(Type.String({ maxLength: 512 })),
  /** Empty: as the tool is registered (document_target). */
  presentation: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('iframe'), Type.Literal('window')]))
})

// Keeps the role beside the course and the image's description in step with
// the choices; without scripts the server-rendered default and the list in
// <noscript> say the same.
const FORM_SCRIPT = `
(function () {
  var course = document.getElementById('course');
  var role = document.getElementById('course-role');
  var roles = document.getElementById('course-roles');
  var image = document.getElementById('image');
  var description = document.getElementById('image-description');
  function showRole () {
    var option = course.options[course.selectedIndex];
    role.textContent = option.dataset.role;
    roles.textContent = option.dataset.roles;
  }
  function showDescription () {
    description.textContent = image.options[image.selectedIndex].dataset.description || '';
  }
  // Also at once: a browser may restore earlier choices (back button) over the server's defaults.
  if (course && role && roles) { course.addEventListener('change', showRole); showRole(); }
  if (image && description) { image.addEventListener('change', showDescription); showDescription(); }
})();
`

/** How a demo user appears in a launch. */
export function launcherOf (user: DirectoryUser, sub: string): Launcher {
  const launcher: Launcher = { id: user.id, username: user.username, sub }
  if (user.name !== undefined) launcher.name = user.name
  if (user.givenName !== undefined) launcher.givenName = user.givenName
  if (user.familyName !== undefined) launcher.familyName = user.familyName
  if (user.email !== undefined) launcher.email = user.email
  if (user.locale !== undefined) launcher.locale = user.locale
  return launcher
}

/** The launch page of a signed-in demo user: tool, course, image, Launch. */
const launchPage: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry, sessions, launches, config } = fastify
  // The Launch button must not be framed by another site (clickjacking). The
  // authorize page is left frameable, for tools launched in an iframe.
  // Set before the reply, so that the kit's CSP keeps this frame-ancestors.
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.header('x-frame-options', 'DENY')
    reply.header('content-security-policy', "frame-ancestors 'none'")
  })

  fastify.get('/', async (request, reply) => {
    const session = await sessions.current(request)
    const user = session?.kind === 'user' ? registry.user(session.userId) : undefined
    if (session === undefined || user === undefined) return await reply.redirect('/login', 303)
    const courses = Object.keys(user.courses).map((id) => registry.course(id)).filter((course) => course !== undefined)
    const tools = await registry.allTools()
    // Staff or learner in each course, by the rule the tool applies (the course's context roles decide).
    const memberships = courses.map((course) => {
      const roles = user.courses[course.id] ?? []
      return { course, roles: roles.join(', '), role: classifyRoles(roles).role }
    })
    const offered = tools.filter((tool) => tool.images.length > 0)
    const firstImage = offered[0]?.images[0]
    const described = offered.flatMap((tool) => tool.images).filter((image) => image.description !== undefined)
    reply.header('cache-control', 'no-store')
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `Launch · ${config.PLATFORM_NAME}`,
      body: html`<h1>${config.PLATFORM_NAME}</h1>
<p>Signed in as <strong>${user.name ?? user.username}</strong> (${user.username}).</p>
${tools.length === 0 || courses.length === 0
  ? html`<p class="hint">${tools.length === 0 ? 'No tool is registered yet.' : 'You are not in any course.'}</p>`
  : html`<form method="post" action="/launch">
<input type="hidden" name="csrf" value="${session.csrf}">
<label for="client_id">Tool</label>
<select id="client_id" name="client_id">${tools.map((tool) => html`<option value="${tool.clientId}">${tool.name}</option>`)}</select>
<label for="course">Course</label>
<select id="course" name="course" aria-describedby="course-role-line">${memberships.map(({ course, roles, role }) => html`<option value="${course.id}" data-role="${role}" data-roles="${roles}">${course.title ?? course.id}${course.label === undefined ? '' : ` (${course.label})`} — ${role}</option>`)}</select>
<p id="course-role-line" class="hint">In this course you are <strong id="course-role">${memberships[0]?.role ?? ''}</strong> (<span id="course-roles">${memberships[0]?.roles ?? ''}</span>).</p>
${offered.length > 0
  ? html`<label for="image">Image</label>
<select id="image" name="image"${described.length > 0 ? raw(' aria-describedby="image-description"') : ''}>${offered.map((tool) => html`<optgroup label="${tool.name}">${tool.images.map((image) => html`<option value="${image.value}" data-description="${image.description ?? ''}">${image.label}</option>`)}</optgroup>`)}</select>
${described.length > 0
  ? html`<p id="image-description" class="hint">${firstImage?.description ?? ''}</p>
<noscript><dl>${described.map((image) => html`<dt>${image.label}</dt><dd>${image.description ?? ''}</dd>`)}</dl></noscript>`
  : ''}`
  : ''}
<label for="presentation">Open the tool</label>
<select id="presentation" name="presentation"><option value="">as registered</option><option value="iframe">in a frame on this page</option><option value="window">in this window</option></select>
<p><button type="submit">Launch</button></p>
</form>`}
${isAdmin(user) ? html`<p><a href="/admin/tools">Tools: registrations, register a tool by URL</a></p>` : ''}
${courses.length === 0
? ''
: html`<h2>Courses</h2>
<ul>${courses.map((course) => html`<li><a href="/courses/${encodeURIComponent(course.id)}">${course.title ?? course.id}</a>: its notebook links</li>`)}</ul>`}
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button type="submit">Sign out</button></form>
<script>${raw(FORM_SCRIPT)}</script>`
    }))
  })

  fastify.post('/launch', { schema: { body: LaunchBody } }, async (request, reply) => {
    const session = await sessions.current(request)
    const user = session?.kind === 'user' ? registry.user(session.userId) : undefined
    if (session === undefined || user === undefined) throw new SignInRequired()
    if (!tokensMatch(session.csrf, request.body.csrf)) throw new CsrfFailed()
    const tool = await registry.tool(request.body.client_id)
    if (tool === undefined) throw new UnknownTool(request.body.client_id)
    const courseRoles = user.courses[request.body.course]
    const course = registry.course(request.body.course)
    if (courseRoles === undefined || course === undefined) throw new UnknownCourse(request.body.course)
    const image = request.body.image === '' ? undefined : request.body.image
    if (image !== undefined && !tool.images.some((choice) => choice.value === image)) throw new ImageNotOffered(image, tool.name)

    return await launches.begin(reply, {
      tool,
      deploymentId: tool.deploymentIds[0] as string,
      user: launcherOf(user, user.sub ?? registry.subjectFor(user.id)),
      roles: [...courseRoles, ...user.roles],
      context: course,
      resourceLink: { id: `${course.id}:${tool.clientId}`, title: tool.name },
      ...(image === undefined ? (tool.images[0] === undefined ? {} : { image: tool.images[0].value }) : { image }),
      returnUrl: `${config.publicUrl}/`,
      ...(request.body.presentation === undefined || request.body.presentation === '' ? {} : { presentation: request.body.presentation })
    }, session.id)
  })
}

export default launchPage
