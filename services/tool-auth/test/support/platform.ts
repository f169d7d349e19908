import { randomBytes } from 'node:crypto'
import { buildLaunchClaims, type BuildLaunchInput } from '@ltilaunch/claims'
import Fastify from 'fastify'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import type { Test } from 'tap'

export interface SigningKey {
  kid: string
  privateKey: CryptoKey
  publicJwk: JWK
}

export async function signingKey (kid = randomBytes(6).toString('hex')): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  return { kid, privateKey, publicJwk: { ...await exportJWK(publicKey), kid, alg: 'RS256', use: 'sig' } }
}

/**
 * A test LTI platform on 127.0.0.1: it signs real RS256 id_tokens and serves
 * its JWKS, which a test can rotate or make fail.
 */
export interface TestPlatform {
  issuer: string
  clientId: string
  deploymentId: string
  key: SigningKey
  /** Keys the JWKS publishes (the signing key first). */
  published: SigningKey[]
  /** 'ok', or 'fail' (HTTP 500). */
  jwksMode: 'ok' | 'fail'
  jwksFetches: number
  /** tool-auth settings that register this platform (ltiauthenticator names). */
  env: Record<string, string>
  /** Signs a payload as this platform (header kid of `key` unless given). */
  sign: (payload: Record<string, unknown>, options?: { key?: SigningKey, kid?: string }) => Promise<string>
  /** A complete, valid LtiResourceLinkRequest payload for a nonce; `overrides` replace top-level claims. */
  claims: (nonce: string, overrides?: Record<string, unknown>, lti?: Partial<BuildLaunchInput>) => Record<string, unknown>
  /** The last authorization request the platform received. */
  lastAuthorize?: Record<string, string>
  /** What the platform's authorization endpoint puts into the token (with the nonce it received). */
  authorizeClaims: (nonce: string) => Record<string, unknown>
}

export const TARGET = 'https://tool.test/lti13/launch'

export async function startPlatform (t: Test, options: { clientId?: string, target?: string } = {}): Promise<TestPlatform> {
  const server = Fastify()
  const key = await signingKey()
  const platform = {} as TestPlatform
  Object.assign(platform, {
    clientId: options.clientId ?? 'tool-client-1',
    deploymentId: 'deployment-1',
    key,
    published: [key],
    jwksMode: 'ok',
    jwksFetches: 0,
    async sign (payload: Record<string, unknown>, signOptions: { key?: SigningKey, kid?: string } = {}) {
      const signer = signOptions.key ?? platform.key
      return await new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', kid: signOptions.kid ?? signer.kid, typ: 'JWT' })
        .sign(signer.privateKey)
    },
    claims (nonce: string, overrides: Record<string, unknown> = {}, lti: Partial<BuildLaunchInput> = {}) {
      const now = Math.floor(Date.now() / 1000)
      return {
        ...buildLaunchClaims({
          deploymentId: platform.deploymentId,
          targetLinkUri: options.target ?? TARGET,
          resourceLink: { id: 'link-1', title: 'Week 1 notebook' },
          roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
          context: { id: 'course-42', label: 'DS101', title: 'Data Science 101', type: ['CourseOffering'] },
          custom: { image: 'scipy', course_name: 'ds101' },
          user: { name: 'Ada Lovelace', email: 'Ada@Example.org' },
          ...lti
        }),
        iss: platform.issuer,
        aud: platform.clientId,
        sub: 'user-sub-1',
        iat: now,
        exp: now + 300,
        nonce,
        ...overrides
      }
    },
    authorizeClaims: (nonce: string) => platform.claims(nonce)
  })

  server.get('/jwks', async (_request, reply) => {
    platform.jwksFetches++
    if (platform.jwksMode === 'fail') return await reply.code(500).send({ error: 'down' })
    return { keys: platform.published.map((k) => k.publicJwk) }
  })
  // The OIDC authorization endpoint: answers with the form_post page a browser would auto-submit.
  server.get('/authorize', async (request, reply) => {
    const query = request.query as Record<string, string>
    platform.lastAuthorize = query
    const token = await platform.sign(platform.authorizeClaims(query.nonce ?? ''))
    return await reply.type('text/html').send(`<form method="post" action="${query.redirect_uri}">` +
      `<input type="hidden" name="id_token" value="${token}"><input type="hidden" name="state" value="${query.state}"></form>`)
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  const address = server.addresses()[0] as { port: number }
  platform.issuer = `http://127.0.0.1:${address.port}`
  platform.env = {
    issuer: platform.issuer,
    client_id: platform.clientId,
    authorize_url: `${platform.issuer}/authorize`,
    jwks_endpoint: `${platform.issuer}/jwks`
  }
  return platform
}
