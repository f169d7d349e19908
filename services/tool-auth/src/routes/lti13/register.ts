import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { html, isHttpUrl, page, splitList } from '@ltilaunch/service-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import {
  RegistrationConflict,
  RegistrationExpired,
  RegistrationLinkInvalid,
  RegistrationNamespaceTaken,
  RegistrationNotAuthorized,
  RegistrationOff,
  RegistrationParamInvalid
} from '../../errors.js'
import { rateLimited } from '../../lib/rate-limit.js'
import {
  assertSameEndpoints,
  checkConfiguration,
  defaultNamespace,
  fetchConfiguration,
  LINK_PREFIX,
  PENDING_PREFIX,
  PENDING_TTL,
  REGISTRATIONS_MAP,
  sendRegistration,
  storeRegistration,
  toolRegistration,
  type PlatformConfiguration,
  type StoredRegistration
} from '../../lib/registration.js'
import { publicBase } from '../../lib/urls.js'
import { checkPlatform, namespaceConflict, platformDefaults, type Platform } from '../../config.js'

/** A one-time registration link, as the operator's command stores it. */
export interface RegistrationLink {
  createdAt: number
  expiresAt: number
}

/** A registration the operator has been shown and not yet confirmed. */
interface PendingRegistration {
  configuration: PlatformConfiguration
  registrationToken?: string
  link?: string
  authorizedBy: 'link' | 'secret'
}

const Html = Type.String({ description: 'an HTML page' })
const Param = Type.Optional(Type.String({ maxLength: 4096 }))

/** What the platform appends to the registration URL (LTI-DR 3.3), and the operator's one-time link. */
const RegisterQuery = Type.Object({
  openid_configuration: Param,
  registration_token: Param,
  link: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: true })

const AuthorizeBody = Type.Object({
  openid_configuration: Param,
  registration_token: Param,
  secret: Type.String({ maxLength: 1024 })
}, { additionalProperties: true })

/** Names around usernames: no "/", no white space (the hub refuses those in a username). */
const NamePart = Type.String({ maxLength: 64, pattern: '^[^/\\s]*$' })

const ConfirmBody = Type.Object({
  pending: Type.String({ minLength: 1, maxLength: 200 }),
  username_key: Type.Optional(Type.String({ maxLength: 200, pattern: '^\\S*$' })),
  username_prefix: Type.Optional(NamePart),
  username_suffix: Type.Optional(NamePart),
  admin_roles: Type.Optional(Type.String({ maxLength: 4096 }))
}, { additionalProperties: true })

function sameSecret (given: string, expected: string): boolean {
  // Digests first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/**
 * LTI Dynamic Registration, the tool's side. A platform's administrator
 * pastes this tool's registration URL (a one-time link from the operator);
 * the platform opens it with `openid_configuration` and
 * `registration_token`; the tool reads and checks the platform's
 * configuration, shows the administrator what it will register, and on
 * their confirmation registers itself, keeps the platform in the store and
 * tells the platform it is done (`org.imsglobal.lti.close`).
 */
const registerRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, platforms } = fastify
  // Every step's refusal is a refused registration.
  const routeConfig = { rateLimit: rateLimited(config), audit: 'tool.registration.added' as const }

  function enabled (): void {
    if (config.DYNAMIC_REGISTRATION === 'off') throw new RegistrationOff()
  }

  function configurationUrl (value: string | undefined): string {
    if (value === undefined || value === '') throw new RegistrationParamInvalid('it has no openid_configuration')
    if (!isHttpUrl(value)) throw new RegistrationParamInvalid('openid_configuration is not an http(s) URL')
    return value
  }

  async function review (request: FastifyRequest, reply: FastifyReply, url: string, registrationToken: string | undefined, authorization: { link?: string, authorizedBy: 'link' | 'secret' }) {
    const raw = await fetchConfiguration(url, registrationToken, config.REGISTRATION_TIMEOUT_MS)
    const configuration = checkConfiguration(raw, url, config.idTokenAlgorithms, config.registrationSharedIssuers)
    if (platforms.configured(configuration.issuer)) throw new RegistrationConflict(configuration.issuer)
    const existing = await store.mapGet<StoredRegistration>(REGISTRATIONS_MAP, configuration.issuer)
    assertSameEndpoints(existing, configuration)
    const pendingId = randomBytes(24).toString('base64url')
    const pending: PendingRegistration = { configuration, authorizedBy: authorization.authorizedBy }
    if (registrationToken !== undefined && registrationToken !== '') pending.registrationToken = registrationToken
    if (authorization.link !== undefined) pending.link = authorization.link
    await store.put(`${PENDING_PREFIX}${pendingId}`, pending, PENDING_TTL)

    const base = publicBase(request, config)
    const namespace = existing === undefined ? defaultNamespace(configuration.issuer) : { prefix: existing.username_prefix, suffix: existing.username_suffix }
    const deepLinking = configuration.messagesSupported.includes('LtiDeepLinkingRequest')
    request.log.info({ issuer: configuration.issuer, product: configuration.productFamilyCode }, 'registration by URL shown for confirmation')
    return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page({
      title: `Register ${config.tool_name} with ${configuration.productFamilyCode}`,
      body: html`<h1>Register ${config.tool_name}</h1>
<p>A platform asks to register this tool. Check what it is, choose how its users are named, and confirm.</p>
<h2>The platform</h2>
<table>
<tr><th>Product</th><td>${configuration.productFamilyCode}${configuration.version === undefined ? '' : ` ${configuration.version}`}</td></tr>
<tr><th>Issuer</th><td><code>${configuration.issuer}</code></td></tr>
<tr><th>Sign-in (authorization) endpoint</th><td><code>${configuration.authorizationEndpoint}</code></td></tr>
<tr><th>Keys (JWKS)</th><td><code>${configuration.jwksUri}</code></td></tr>
<tr><th>Token endpoint</th><td><code>${configuration.tokenEndpoint}</code></td></tr>
</table>
${existing === undefined ? '' : html`<p class="hint">This platform is already registered (client ids ${existing.client_ids.join(', ')}); confirming adds another client id.</p>`}
<h2>What the tool registers</h2>
<table>
<tr><th>Name</th><td>${config.tool_name}</td></tr>
<tr><th>Login initiation</th><td><code>${base}/lti13/oauth_login</code></td></tr>
<tr><th>Redirect URIs</th><td><code>${base}/lti13/oauth_callback</code>, <code>${base}/lti13/launch</code></td></tr>
<tr><th>Keys (JWKS)</th><td><code>${base}/lti13/jwks</code></td></tr>
<tr><th>Messages</th><td>resource link launches${deepLinking ? ', deep linking (the content picker)' : ''}</td></tr>
<tr><th>Services</th><td>none (no grades, no rosters)</td></tr>
</table>
<h2>How its users are named on the hub</h2>
<form method="post" action="/lti13/register/confirm">
<input type="hidden" name="pending" value="${pendingId}">
<label for="username_prefix">Before every username and course</label>
<input id="username_prefix" name="username_prefix" value="${namespace.prefix}">
<label for="username_suffix">After every username and course</label>
<input id="username_suffix" name="username_suffix" value="${namespace.suffix}">
<p class="hint">Each platform has its own namespace by default, so that a user of one platform can never receive the server of a user of another. Clear both only if this is the hub's only platform.</p>
<label for="username_key">Claim that gives the username</label>
<input id="username_key" name="username_key" value="${existing?.username_key ?? ''}" placeholder="${config.username_key}">
<label for="admin_roles">Roles that make a user a hub admin (comma separated)</label>
<input id="admin_roles" name="admin_roles" value="${existing?.admin_roles?.join(', ') ?? ''}" placeholder="the tool's default">
<p><button type="submit">Register</button></p>
</form>`
    }))
  }

  fastify.get('/lti13/register', {
    config: routeConfig,
    schema: { querystring: RegisterQuery, response: { 200: Html } }
  }, async (request, reply) => {
    enabled()
    const url = configurationUrl(request.query.openid_configuration)
    const token = request.query.registration_token
    const link = request.query.link
    if (link !== undefined && link !== '') {
      if (await store.get<RegistrationLink>(`${LINK_PREFIX}${link}`) === undefined) throw new RegistrationLinkInvalid()
      return await review(request, reply, url, token, { link, authorizedBy: 'link' })
    }
    if (config.REGISTRATION_SECRET === undefined) throw new RegistrationNotAuthorized('this address needs a one-time registration link')
    // The configuration is fetched only after the operator is known.
    return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page({
      title: `Register ${config.tool_name}`,
      body: html`<h1>Register ${config.tool_name}</h1>
<p>A platform asks to register this tool. Registrations are authorized by the tool's operator: enter the registration secret.</p>
<form method="post" action="/lti13/register/authorize">
<input type="hidden" name="openid_configuration" value="${url}">
${token === undefined ? '' : html`<input type="hidden" name="registration_token" value="${token}">`}
<label for="secret">Registration secret</label>
<input id="secret" name="secret" type="password" autocomplete="off" required>
<p><button type="submit">Continue</button></p>
</form>`
    }))
  })

  fastify.post('/lti13/register/authorize', {
    config: routeConfig,
    schema: { body: AuthorizeBody, response: { 200: Html } }
  }, async (request, reply) => {
    enabled()
    const url = configurationUrl(request.body.openid_configuration)
    if (config.REGISTRATION_SECRET === undefined) throw new RegistrationNotAuthorized('this tool has no registration secret; use a one-time registration link')
    if (!sameSecret(request.body.secret, config.REGISTRATION_SECRET)) {
      request.log.warn('registration refused: wrong registration secret')
      throw new RegistrationNotAuthorized('the registration secret is not right')
    }
    return await review(request, reply, url, request.body.registration_token, { authorizedBy: 'secret' })
  })

  /**
   * A person is (issuer, sub): the namespace chosen for a new platform must
   * not let its usernames meet those of a configured or registered one, by
   * the rule the start applies to the platforms file. Checked before the
   * link is spent and before the platform hears of it.
   */
  async function assertOwnNamespace (configuration: PendingRegistration['configuration'], body: { username_prefix?: string, username_suffix?: string, username_key?: string }): Promise<void> {
    const problems: string[] = []
    const candidate = checkPlatform({
      issuer: configuration.issuer,
      client_ids: ['(assigned by the platform)'],
      authorize_url: configuration.authorizationEndpoint,
      jwks_endpoint: configuration.jwksUri,
      username_prefix: body.username_prefix ?? '',
      username_suffix: body.username_suffix ?? '',
      ...(body.username_key !== undefined && body.username_key !== '' ? { username_key: body.username_key } : {})
    }, 'this registration', problems, platformDefaults(config))
    if (candidate === undefined) throw new RegistrationParamInvalid(problems.join('; '))
    const registered = (await platforms.registered())
      .map((stored) => checkPlatform(stored, stored.issuer, [], platformDefaults(config)))
      .filter((platform): platform is Platform => platform !== undefined)
    const conflict = namespaceConflict(candidate, [...platforms.all, ...registered])
    if (conflict !== undefined) {
      const described = conflict.namespace.prefix === '' && conflict.namespace.suffix === '' ? 'no namespace' : `"${conflict.namespace.prefix}" … "${conflict.namespace.suffix}"`
      throw new RegistrationNamespaceTaken(conflict.issuer, described)
    }
  }

  fastify.post('/lti13/register/confirm', {
    config: routeConfig,
    schema: { body: ConfirmBody, response: { 200: Html } }
  }, async (request, reply) => {
    enabled()
    const body = request.body
    const pending = await store.take<PendingRegistration>(`${PENDING_PREFIX}${body.pending}`)
    if (pending === undefined) throw new RegistrationExpired()
    const { configuration } = pending
    if (platforms.configured(configuration.issuer)) throw new RegistrationConflict(configuration.issuer)
    await assertOwnNamespace(configuration, body)
    // The link is spent here, once: two confirmations cannot both use it.
    const linkKey = pending.link === undefined ? undefined : `${LINK_PREFIX}${pending.link}`
    const link = linkKey === undefined ? undefined : await store.take<RegistrationLink>(linkKey)
    if (linkKey !== undefined && link === undefined) throw new RegistrationLinkInvalid()

    let result: Awaited<ReturnType<typeof sendRegistration>>
    try {
      const registration = toolRegistration(publicBase(request, config), { toolName: config.tool_name, toolDescription: config.tool_description, configuration })
      result = await sendRegistration(configuration, pending.registrationToken, registration, config.REGISTRATION_TIMEOUT_MS)
    } catch (err) {
      // Nothing was registered: the operator's link still works for another try.
      const left = link === undefined ? 0 : Math.floor((link.expiresAt - Date.now()) / 1000)
      if (linkKey !== undefined && link !== undefined && left > 0) await store.put(linkKey, link, left)
      throw err
    }
    const adminRoles = splitList(body.admin_roles)
    const record = await storeRegistration(store, configuration, result, {
      usernamePrefix: body.username_prefix ?? '',
      usernameSuffix: body.username_suffix ?? '',
      ...(body.username_key !== undefined && body.username_key !== '' ? { usernameKey: body.username_key } : {}),
      ...(adminRoles.length > 0 ? { adminRoles } : {})
    }, pending.authorizedBy)
    request.log.info({ issuer: record.issuer, clientId: result.clientId, deploymentId: result.deploymentId, authorizedBy: pending.authorizedBy }, 'platform registered by URL')
    request.audit({ type: 'tool.registration.added', outcome: 'success', target: { issuer: record.issuer, client_id: result.clientId, deployment_id: result.deploymentId } })
    return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page({
      title: `${config.tool_name} is registered`,
      body: html`<h1>${config.tool_name} is registered</h1>
<p>The platform <code>${record.issuer}</code> gave this tool the client id <code>${result.clientId}</code>${result.deploymentId === undefined ? '' : html` and the deployment <code>${result.deploymentId}</code>`}. Its users launch the tool from now on.</p>
<p class="hint">You can close this window.</p>
<script>(window.opener || window.parent).postMessage({ subject: 'org.imsglobal.lti.close' }, '*')</script>`
    }))
  })
}

export default registerRoutes
