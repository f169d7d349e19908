import { randomBytes } from 'node:crypto'
import { CUSTOM_KEY, LTI_CLAIM, LTI_VERSION, MESSAGE_TYPE } from '@ltilaunch/claims'
import { autoSubmitPage, html, isHttpUrl, page } from '@ltilaunch/service-kit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SignJWT } from 'jose'
import { DeepLinkReturnUrlInvalid, DeepLinkStaffOnly } from '../errors.js'
import type { BrokerImage } from '../plugins/broker.js'
import type { LaunchFacts } from './launch.js'
import { publicBase } from './urls.js'

/**
 * Deep Linking 2.0, tool side: staff get a picker (image, course name, title,
 * text); its form posts back to /lti13/deep-link with the opaque id of a
 * one-time record kept here, which holds everything the verified request said.
 * The answer is an LtiDeepLinkingResponse JWT signed with the tool key and
 * auto-posted to the platform's (http(s)) deep_link_return_url.
 */

/** What the picker's submission is bound to: the verified request, kept once under an opaque id. */
export interface DeepLinkPick {
  issuer: string
  clientId: string
  deploymentId: string
  username: string
  returnUrl: string
  /** The request's `data`, echoed unchanged in the response. */
  data?: unknown
  acceptMultiple: boolean
  /** How the link should open, from accept_presentation_document_targets. */
  documentTarget?: 'window' | 'iframe'
  autoCreate: boolean
  courseName: string
  /** The image references offered; undefined without a broker (the image is then free text). */
  offered?: string[]
  /** Display names of the offered references, for the link's default title. */
  names?: Record<string, string>
}

export const pickKey = (id: string): string => `deeplink:${id}`

interface DeepLinkingSettings {
  deep_link_return_url?: unknown
  accept_types?: unknown
  accept_multiple?: unknown
  accept_presentation_document_targets?: unknown
  auto_create?: unknown
  data?: unknown
  title?: unknown
  text?: unknown
}

const strings = (value: unknown): string[] | undefined => Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined

interface ResponseInput {
  issuer: string
  clientId: string
  deploymentId: string
  items: Array<Record<string, unknown>>
  data?: unknown
  msg?: string
  log?: string
  errormsg?: string
  errorlog?: string
}

/** The LtiDeepLinkingResponse JWT: iss = our client id, aud = the platform, signed with the tool key. */
export async function signDeepLinkingResponse (fastify: FastifyInstance, input: ResponseInput): Promise<string> {
  const response: Record<string, unknown> = {
    [LTI_CLAIM.messageType]: MESSAGE_TYPE.deepLinkingResponse,
    [LTI_CLAIM.version]: LTI_VERSION,
    [LTI_CLAIM.deploymentId]: input.deploymentId,
    [LTI_CLAIM.deepLinkingContentItems]: input.items,
    nonce: randomBytes(16).toString('base64url')
  }
  if (input.data !== undefined) response[LTI_CLAIM.deepLinkingData] = input.data
  if (input.msg !== undefined) response[LTI_CLAIM.deepLinkingMsg] = input.msg
  if (input.log !== undefined) response[LTI_CLAIM.deepLinkingLog] = input.log
  if (input.errormsg !== undefined) response[LTI_CLAIM.deepLinkingErrorMsg] = input.errormsg
  if (input.errorlog !== undefined) response[LTI_CLAIM.deepLinkingErrorLog] = input.errorlog
  return await new SignJWT(response)
    .setProtectedHeader({ alg: fastify.toolKeys.alg, kid: fastify.toolKeys.kid, typ: 'JWT' })
    .setIssuer(input.clientId)
    .setAudience(input.issuer)
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(randomBytes(16).toString('base64url'))
    .sign(fastify.toolKeys.privateKey)
}

/** The page that posts the response to the platform (the return URL was checked when the request came). */
export async function postResponse (reply: FastifyReply, toolName: string, returnUrl: string, jwt: string) {
  if (!isHttpUrl(returnUrl)) throw new DeepLinkReturnUrlInvalid()
  return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(autoSubmitPage({
    title: `Adding ${toolName} to your course`,
    action: returnUrl,
    fields: { JWT: jwt }
  }))
}

/** One ltiResourceLink content item for a chosen image, with the custom parameters the launch path reads. */
export function resourceLinkItem (base: string, pick: DeepLinkPick, choice: { image?: string, courseName: string, title: string, text?: string }): Record<string, unknown> {
  const custom: Record<string, string> = { [CUSTOM_KEY.courseName]: choice.courseName }
  if (choice.image !== undefined && choice.image !== '') custom[CUSTOM_KEY.image] = choice.image
  const item: Record<string, unknown> = { type: 'ltiResourceLink', url: `${base}/lti13/launch`, title: choice.title, custom }
  if (choice.text !== undefined && choice.text !== '') item.text = choice.text
  // JupyterLab wants the whole window; an iframe only where the platform offers nothing else.
  if (pick.documentTarget === 'window') item.window = { targetName: '_blank' }
  if (pick.documentTarget === 'iframe') item.iframe = { height: 800 }
  return item
}

/**
 * Answers a verified deep linking request: a refusal for a non-http(s)
 * return URL or a learner, a response carrying an error for a platform that
 * accepts nothing we make, and otherwise the picker page.
 */
export async function deepLinkingResponse (fastify: FastifyInstance, request: FastifyRequest, reply: FastifyReply, claims: Record<string, unknown>, facts: LaunchFacts) {
  const { config } = fastify
  const settings = (claims[LTI_CLAIM.deepLinkingSettings] ?? {}) as DeepLinkingSettings
  // Nothing is ever posted to a return URL that is not http(s), not even an error.
  if (!isHttpUrl(settings.deep_link_return_url)) throw new DeepLinkReturnUrlInvalid()
  const returnUrl = settings.deep_link_return_url
  if (!facts.classification.isStaff) throw new DeepLinkStaffOnly()

  const deploymentId = String(claims[LTI_CLAIM.deploymentId] ?? '')
  const answer = { issuer: facts.issuer, clientId: facts.clientId, deploymentId, ...(settings.data === undefined ? {} : { data: settings.data }) }

  // A platform that accepts no ltiResourceLink, or cannot show one in a window or an iframe, gets an answer it can show.
  const acceptTypes = strings(settings.accept_types)
  const targets = strings(settings.accept_presentation_document_targets)
  const documentTarget = targets === undefined || targets.includes('window') ? 'window' : targets.includes('iframe') ? 'iframe' : undefined
  const refusal = acceptTypes !== undefined && !acceptTypes.includes('ltiResourceLink')
    ? `${config.tool_name} only makes LTI resource links (ltiResourceLink), and this placement accepts ${acceptTypes.length === 0 ? 'none' : acceptTypes.join(', ')}.`
    : documentTarget === undefined
      ? `${config.tool_name} opens in a window or an iframe, and this placement accepts only ${(targets ?? []).join(', ')}.`
      : undefined
  if (refusal !== undefined) {
    request.log.info({ issuer: facts.issuer, acceptTypes, targets }, 'deep linking request answered with an error: nothing acceptable to offer')
    const jwt = await signDeepLinkingResponse(fastify, {
      ...answer,
      items: [],
      errormsg: `${refusal} Add it from a placement that accepts LTI links (such as an assignment or module item).`,
      errorlog: `accept_types=${JSON.stringify(acceptTypes)} accept_presentation_document_targets=${JSON.stringify(targets ?? null)}`
    })
    return await postResponse(reply, config.tool_name, returnUrl, jwt)
  }

  const images: BrokerImage[] | undefined = fastify.broker.configured ? await fastify.broker.listImages() : undefined
  const context = claims[LTI_CLAIM.context] as { id?: string, label?: string, title?: string } | undefined
  const courseName = context?.label ?? context?.title ?? context?.id ?? ''
  const pick: DeepLinkPick = {
    issuer: facts.issuer,
    clientId: facts.clientId,
    deploymentId,
    username: facts.username,
    returnUrl,
    ...(settings.data === undefined ? {} : { data: settings.data }),
    acceptMultiple: settings.accept_multiple === true,
    documentTarget,
    autoCreate: settings.auto_create === true,
    courseName
  }
  if (images !== undefined) {
    pick.offered = images.map((image) => image.reference)
    pick.names = Object.fromEntries(images.map((image) => [image.reference, image.name]))
  }
  const id = randomBytes(32).toString('base64url')
  await fastify.store.put(pickKey(id), pick, config.DEEP_LINK_TTL)

  const title = typeof settings.title === 'string' && settings.title !== '' ? settings.title : config.tool_name
  const text = typeof settings.text === 'string' ? settings.text : ''
  const multiple = pick.acceptMultiple
  return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page({
    title: `Add ${config.tool_name} to ${courseName === '' ? 'your course' : courseName}`,
    body: html`<h1>Add a notebook link</h1>
<p>Choose the notebook image this link starts. Everyone who opens the link from the course gets their own server with it.</p>
<form method="post" action="${publicBase(request, config)}/lti13/deep-link">
<input type="hidden" name="pick" value="${id}">
${images === undefined
  ? html`<label for="image">Image</label>
<input id="image" name="image" maxlength="512" placeholder="leave empty for the hub's default">`
  : html`<fieldset><legend>Image${multiple ? 's (one link each)' : ''}</legend>
${images.map((image, i) => html`<p><label><input type="${multiple ? 'checkbox' : 'radio'}" name="image" value="${image.reference}"${i === 0 ? html` checked` : ''}>
<strong>${image.name}</strong>${image.staffOnly ? ' (staff only: learners cannot start it)' : ''}<br><code>${image.image}</code>${image.description === undefined ? '' : html`<br>${image.description}`}</label></p>`)}
</fieldset>`}
<label for="course_name">Course name</label>
<input id="course_name" name="course_name" value="${courseName}" maxlength="255" required>
<label for="title">Link title</label>
<input id="title" name="title" value="${title}" maxlength="255" required>
<label for="text">Link text</label>
<textarea id="text" name="text" maxlength="1024">${text}</textarea>
${pick.autoCreate ? '' : html`<p class="hint">The platform asks you to confirm the link after this step.</p>`}
<p><button type="submit">Add link</button></p>
</form>`
  }))
}
