import { randomBytes } from 'node:crypto'
import { LTI_CLAIM, LTI_VERSION, MESSAGE_TYPE } from '@ltilaunch/claims'
import { autoSubmitPage } from '@ltilaunch/service-kit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SignJWT } from 'jose'
import type { LaunchFacts } from './launch.js'
import { publicBase } from './urls.js'

/** Answers a deep linking request with one link to this tool, signed with the tool's key. */
export async function deepLinkingResponse (fastify: FastifyInstance, request: FastifyRequest, reply: FastifyReply, claims: Record<string, unknown>, facts: LaunchFacts) {
  const { config } = fastify
  const settings = claims[LTI_CLAIM.deepLinkingSettings] as { deep_link_return_url: string, data?: unknown }
  const base = publicBase(request, config)
  const item: Record<string, unknown> = { type: 'ltiResourceLink', title: config.tool_name, url: `${base}/lti13/launch` }
  const response: Record<string, unknown> = {
    [LTI_CLAIM.messageType]: MESSAGE_TYPE.deepLinkingResponse,
    [LTI_CLAIM.version]: LTI_VERSION,
    [LTI_CLAIM.deploymentId]: claims[LTI_CLAIM.deploymentId],
    [LTI_CLAIM.deepLinkingContentItems]: [item],
    nonce: randomBytes(16).toString('base64url')
  }
  if (settings.data !== undefined) response[LTI_CLAIM.deepLinkingData] = settings.data
  const jwt = await new SignJWT(response)
    .setProtectedHeader({ alg: fastify.toolKeys.alg, kid: fastify.toolKeys.kid, typ: 'JWT' })
    .setIssuer(facts.clientId)
    .setAudience(facts.issuer)
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(randomBytes(16).toString('base64url'))
    .sign(fastify.toolKeys.privateKey)
  return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(autoSubmitPage({
    title: `Adding ${config.tool_name} to your course`,
    action: settings.deep_link_return_url,
    fields: { JWT: jwt }
  }))
}
