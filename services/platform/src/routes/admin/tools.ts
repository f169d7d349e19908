import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { classifyRoles, ROLES } from '@ltilaunch/claims'
import { html, page, raw } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AdminRequired, CsrfFailed, RegistrationUrlInvalid, SignInRequired } from '../../errors.js'
import { randomToken, tokensMatch } from '../../lib/csrf.js'
import type { Session } from '../../plugins/sessions.js'
import type { DirectoryUser } from '../../lib/users.js'
import { REGISTRATION_TOKEN_PREFIX, type RegistrationTicket } from '../lti/register.js'

const RegisterBody = Type.Object({
  csrf: Type.String({ maxLength: 200 }),
  url: Type.String({ maxLength: 2048 })
})

const Html = Type.String({ description: 'an HTML page' })

/** An administrator: a demo user with a system or institution Administrator role. */
/** Who administers this platform: its own users with a system or institution Administrator role. */
const PLATFORM_ADMIN_ROLES = [ROLES.system.Administrator, ROLES.institution.Administrator]

export function isAdmin (user: DirectoryUser): boolean {
  // The platform's own authority, written down here; LTI roles make no admin by default (claims' classifyRoles).
  return classifyRoles(user.roles, { adminRoles: PLATFORM_ADMIN_ROLES }).isAdmin
}

/**
 * The admin's tool registrations: the list (file and registered by URL), and
 * "Register a tool by URL" — the admin pastes the tool's registration URL;
 * the platform opens it with its OpenID configuration and a one-time
 * registration token (LTI-DR 3.3), and the tool registers itself at
 * /lti/register and posts `org.imsglobal.lti.close` when it is done.
 */
const adminTools: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry, sessions, store, config } = fastify
  // These pages hold forms an admin submits: no other site may frame them
  // (set before the route runs, so the kit merges it into its policy).
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.header('x-frame-options', 'DENY')
    reply.header('content-security-policy', "frame-ancestors 'none'")
  })

  async function admin (request: FastifyRequest): Promise<{ session: Session, user: DirectoryUser } | undefined> {
    const session = await sessions.current(request)
    const user = session?.kind === 'user' ? registry.user(session.userId) : undefined
    if (session === undefined || user === undefined) return undefined
    if (!isAdmin(user)) throw new AdminRequired()
    return { session, user }
  }

  async function listPage (reply: FastifyReply, session: Session) {
    const stored = new Map((await registry.registered()).map((entry) => [entry.tool.client_id, entry]))
    const tools = await registry.allTools()
    reply.header('cache-control', 'no-store')
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `Tools · ${config.PLATFORM_NAME}`,
      body: html`<h1>Tools</h1>
<p><a href="/">Back to the launch page</a></p>
${tools.length === 0
  ? html`<p class="hint">No tool is registered yet.</p>`
  : html`<table>
<tr><th>Name</th><th>Client id</th><th>Deployment</th><th>Login initiation</th><th>Registered</th></tr>
${tools.map((tool) => {
  const entry = stored.get(tool.clientId)
  return html`<tr><td>${tool.name}</td><td><code>${tool.clientId}</code></td><td><code>${tool.deploymentIds.join(', ')}</code></td><td><code>${tool.initiateLoginUri}</code></td><td>${entry === undefined || registry.tools.some((file) => file.clientId === tool.clientId) ? 'registrations file' : `by URL, ${entry.registered_at} by ${entry.registered_by}`}</td></tr>`
})}
</table>`}
<h2>Register a tool by URL</h2>
<p>Paste the registration URL from the tool (LTI Dynamic Registration). The tool shows what it will register and asks you to confirm.</p>
<form method="post" action="/admin/tools/register">
<input type="hidden" name="csrf" value="${session.csrf}">
<label for="url">Registration URL</label>
<input id="url" name="url" type="url" required placeholder="https://tool.example/lti13/register?link=...">
<p><button type="submit">Register</button></p>
</form>
<p class="hint">This platform's OpenID configuration: <code>${config.publicUrl}/.well-known/openid-configuration</code></p>`
    }))
  }

  fastify.get('/admin/tools', { schema: { response: { 200: Html, 303: Type.Null() } } }, async (request, reply) => {
    const signedIn = await admin(request)
    if (signedIn === undefined) return await reply.redirect('/login', 303)
    return await listPage(reply, signedIn.session)
  })

  fastify.post('/admin/tools/register', { config: { audit: 'platform.admin' }, schema: { body: RegisterBody, response: { 200: Html } } }, async (request, reply) => {
    const signedIn = await admin(request)
    if (signedIn === undefined) throw new SignInRequired()
    if (!tokensMatch(signedIn.session.csrf, request.body.csrf)) throw new CsrfFailed()
    let target: URL
    try {
      target = new URL(request.body.url.trim())
    } catch {
      throw new RegistrationUrlInvalid()
    }
    if ((target.protocol !== 'http:' && target.protocol !== 'https:') || target.username !== '' || target.password !== '') throw new RegistrationUrlInvalid()
    const token = randomToken()
    const ticket: RegistrationTicket = { admin: signedIn.user.username, createdAt: Date.now() }
    await store.put(`${REGISTRATION_TOKEN_PREFIX}${token}`, ticket, config.REGISTRATION_TOKEN_TTL)
    target.searchParams.set('openid_configuration', `${config.publicUrl}/.well-known/openid-configuration`)
    target.searchParams.set('registration_token', token)
    request.log.info({ admin: signedIn.user.username, tool: target.origin }, 'registration by URL started')
    request.audit({ type: 'platform.admin', outcome: 'success', actor: { issuer: config.issuer, username: signedIn.user.username }, target: { tool: target.origin } })
    reply.header('cache-control', 'no-store')
    // This page frames the tool's registration page, and only that.
    reply.header('content-security-policy', `frame-ancestors 'none'; frame-src ${target.origin}`)
    // The tool's page runs in the frame; when it posts org.imsglobal.lti.close, the list is shown again.
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `Registering a tool · ${config.PLATFORM_NAME}`,
      body: html`<h1>Registering a tool</h1>
<p>The tool's registration page is below. Confirm there; this page returns to the list when the tool is done.
If the page stays empty, <a id="open-tool" href="${target.toString()}" target="_blank" rel="opener">open it in a new window</a>.</p>
<style>#registration { width: 100%; height: 38rem; border: 1px solid #ccc }</style>
<iframe id="registration" src="${target.toString()}" title="Tool registration"></iframe>
<p><a href="/admin/tools">Back to the tools</a></p>
<script>
var toolOrigin = ${raw(JSON.stringify(target.origin))}
window.addEventListener('message', function (event) {
  if (event.origin !== toolOrigin) return
  if (event.data && event.data.subject === 'org.imsglobal.lti.close') window.location.assign('/admin/tools')
})
</script>`
    }))
  })
}

export default adminTools
