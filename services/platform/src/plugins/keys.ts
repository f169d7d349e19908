import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import { SignJWT } from 'jose'
import { keptFile } from '../lib/kept-file.js'
import { generateSigningKeyPem, parsePrivateKey, publicJwk, type PublishedJwk, type SigningKey } from '../lib/keys.js'

export interface PlatformKeys {
  /** The kid of the key that signs now. */
  readonly kid: string
  readonly alg: SigningKey['alg']
  /** Every published key: the signing key, the next key, the retired keys. */
  readonly jwks: { keys: PublishedJwk[] }
  /** Signs a JWT with the current key, kid in the header. */
  sign: (payload: Record<string, unknown>) => Promise<string>
  /** Secrets the service derives things from (session cookies, opaque subjects). */
  readonly sessionSecret: string
  readonly subjectSecret: string
}

declare module 'fastify' {
  interface FastifyInstance {
    keys: PlatformKeys
  }
}

/** Loads (or in development, generates once and keeps) the signing key and secrets. */
export default fp(async function keysPlugin (fastify) {
  const config = fastify.config
  const dir = config.PLATFORM_KEY_DIR
  let signing = config.signingKey
  if (signing === undefined) {
    const kept = await keptFile(dir, 'signing-key.pem', 'PLATFORM_SIGNING_KEY', generateSigningKeyPem)
    signing = parsePrivateKey(kept.value)
    if (kept.generated) fastify.log.warn({ path: kept.path }, 'no PLATFORM_SIGNING_KEY: generated a development signing key (RS256) and kept it for later starts')
    else fastify.log.info({ path: kept.path }, 'no PLATFORM_SIGNING_KEY: using the development signing key kept from an earlier start')
  }
  const secret = async (value: string | undefined, file: string, variable: string): Promise<string> => {
    if (value !== undefined) return value
    const kept = await keptFile(dir, file, variable, () => randomBytes(32).toString('base64url'))
    if (kept.generated) fastify.log.warn({ path: kept.path }, `no ${variable}: generated a development secret and kept it for later starts`)
    return kept.value
  }
  const sessionSecret = await secret(config.PLATFORM_SESSION_SECRET, 'session-secret', 'PLATFORM_SESSION_SECRET')
  const subjectSecret = await secret(config.PLATFORM_SUBJECT_SECRET, 'subject-secret', 'PLATFORM_SUBJECT_SECRET')

  const current = await publicJwk(signing)
  const published = [current]
  for (const entry of [config.nextKey, ...config.retiredKeys]) {
    if (entry === undefined) continue
    const jwk = await publicJwk(entry)
    if (!published.some((key) => key.kid === jwk.kid)) published.push(jwk)
  }
  const privateKey = signing.privateKey
  const alg = signing.alg
  fastify.log.info({ kid: current.kid, alg, published: published.length }, 'signing key ready')

  fastify.decorate('keys', {
    kid: current.kid,
    alg,
    jwks: { keys: published },
    sessionSecret,
    subjectSecret,
    sign: async (payload: Record<string, unknown>) =>
      await new SignJWT(payload).setProtectedHeader({ alg, kid: current.kid, typ: 'JWT' }).sign(privateKey)
  })
}, { name: 'platform-keys', fastify: '5.x' })
