import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { html, page } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { randomToken, tokensMatch } from '../../lib/csrf.js'
import { verifyPassword } from '../../lib/password.js'
import { CsrfFailed, InvalidCredentials } from '../../errors.js'

const LOGIN_CSRF_COOKIE = 'ltilaunch_platform_login'

const LoginBody = Type.Object({
  username: Type.String({ maxLength: 100 }),
  password: Type.String({ maxLength: 1024 }),
  csrf: Type.String({ maxLength: 200 })
})

const LogoutBody = Type.Object({ csrf: Type.String({ maxLength: 200 }) }, { additionalProperties: true })

/** The demo sign-in, from the users file. A host site with its own users calls the launch API instead. */
const login: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry, sessions, config } = fastify
  const secure = config.publicUrl.startsWith('https://')
  // These pages hold forms a person submits: no other site may frame them (clickjacking).
  // Set before the reply, so that the kit's CSP keeps this frame-ancestors.
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.header('x-frame-options', 'DENY')
    reply.header('content-security-policy', "frame-ancestors 'none'")
  })

  // Login CSRF is a double-submit token: a signed cookie and the same value in the form.
  const loginForm = async (request: FastifyRequest, reply: FastifyReply, failed: string | undefined) => {
    const token = randomToken()
    reply.setCookie(LOGIN_CSRF_COOKIE, token, { path: '/login', httpOnly: true, sameSite: 'strict', secure, signed: true, maxAge: 3600 })
    reply.header('cache-control', 'no-store')
    if (failed !== undefined) reply.code(401)
    return await reply.type('text/html; charset=utf-8').send(page({
      title: `Sign in · ${config.PLATFORM_NAME}`,
      body: html`<h1>Sign in to ${config.PLATFORM_NAME}</h1>
${failed === undefined ? '' : html`<p class="hint" role="alert">${failed}</p>`}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="${token}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>`
    }))
  }

  fastify.get('/login', async (request, reply) => await loginForm(request, reply, undefined))

  fastify.post('/login', {
    schema: { body: LoginBody },
    config: { rateLimit: { max: 20, timeWindow: '1 minute' }, audit: 'platform.sign_in' }
  }, async (request, reply) => {
    const cookie = request.cookies[LOGIN_CSRF_COOKIE]
    const unsigned = cookie === undefined ? undefined : request.unsignCookie(cookie)
    if (!unsigned?.valid || !tokensMatch(unsigned.value ?? undefined, request.body.csrf)) throw new CsrfFailed()
    const user = registry.user(request.body.username.trim())
    // The name tried, where it can be a name (a password typed in the wrong field is not kept).
    if (/^[\w.@+-]{1,100}$/.test(request.body.username.trim())) request.auditFacts({ actor: { issuer: config.issuer, username: request.body.username.trim() } })
    const ok = await verifyPassword(request.body.password, user?.passwordHash)
    if (!ok || user === undefined) {
      request.log.info({ username: request.body.username.slice(0, 100) }, 'sign-in refused')
      request.audit({ type: 'platform.sign_in', outcome: 'failure', error_code: new InvalidCredentials().code })
      if (!request.headers.accept?.includes('text/html')) throw new InvalidCredentials()
      return await loginForm(request, reply, new InvalidCredentials().message)
    }
    // A fresh session id at every sign-in (no fixation); the one this browser had ends.
    await sessions.end(request, reply)
    await sessions.start(reply, { kind: 'user', userId: user.username }, config.PLATFORM_SESSION_TTL)
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/login' })
    request.audit({ type: 'platform.sign_in', outcome: 'success', actor: { issuer: config.issuer, username: user.username } })
    return await reply.redirect('/', 303)
  })

  fastify.post('/logout', { schema: { body: LogoutBody } }, async (request, reply) => {
    const session = await sessions.current(request)
    if (session !== undefined && !tokensMatch(session.csrf, request.body.csrf)) throw new CsrfFailed()
    await sessions.end(request, reply)
    return await reply.redirect('/login', 303)
  })
}

export default login
