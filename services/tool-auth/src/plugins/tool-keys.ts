import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type CryptoKey, type JWK } from 'jose'
import fp from 'fastify-plugin'

export interface ToolKeys {
  /** The private key this tool signs with (deep-linking responses, service tokens). */
  privateKey: CryptoKey
  kid: string
  alg: 'RS256'
  /** The public JWKS served at /lti13/jwks. */
  jwks: { keys: JWK[] }
}

declare module 'fastify' {
  interface FastifyInstance {
    toolKeys: ToolKeys
  }
}

const KEY_FILE = 'tool-key.pem'

async function keyPem (config: { TOOL_KEY?: string | undefined, TOOL_KEY_DIR: string }, log: { warn: (message: string) => void }): Promise<string> {
  if (config.TOOL_KEY !== undefined) return config.TOOL_KEY
  const path = join(config.TOOL_KEY_DIR, KEY_FILE)
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })
  const pem = await exportPKCS8(privateKey)
  await mkdir(config.TOOL_KEY_DIR, { recursive: true, mode: 0o700 })
  // wx: two replicas starting at once must not overwrite each other's key.
  try {
    await writeFile(path, pem, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return await readFile(path, 'utf8')
    throw err
  }
  log.warn(`generated a development signing key in ${path}; set TOOL_KEY or TOOL_KEY_FILE in production`)
  return pem
}

/** The tool's own signing key: TOOL_KEY(_FILE), or one generated once into TOOL_KEY_DIR. */
export default fp(async function toolKeysPlugin (fastify) {
  const pem = await keyPem(fastify.config, { warn: (message) => fastify.log.warn(message) })
  let privateKey: CryptoKey
  try {
    privateKey = await importPKCS8(pem, 'RS256', { extractable: true })
  } catch (err) {
    throw new Error(`TOOL_KEY: not an RSA private key in PKCS#8 PEM form (${(err as Error).message})`)
  }
  const full = await exportJWK(privateKey)
  const publicJwk: JWK = { kty: full.kty, n: full.n, e: full.e }
  // RFC 7638-style thumbprint input, so the kid is stable for a key.
  const kid = createHash('sha256').update(JSON.stringify({ e: publicJwk.e, kty: publicJwk.kty, n: publicJwk.n })).digest('base64url')
  fastify.decorate('toolKeys', {
    privateKey,
    kid,
    alg: 'RS256' as const,
    jwks: { keys: [{ ...publicJwk, kid, alg: 'RS256', use: 'sig' }] }
  })
}, { name: 'tool-auth-tool-keys' })
