/**
 * Signing keys and the JWKS. A key is a PEM; RSA signs with RS256 and EC
 * P-256 with ES256. The kid of every key is its RFC 7638 thumbprint, so the
 * same key has the same kid on every replica and across restarts.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose'

export type SigningAlg = 'RS256' | 'ES256'

export interface PublicKeyEntry {
  alg: SigningAlg
  publicKey: KeyObject
}

export interface SigningKey extends PublicKeyEntry {
  privateKey: KeyObject
}

export interface PublishedJwk extends JWK {
  kty: string
  kid: string
  alg: SigningAlg
  use: 'sig'
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g

function algOf (key: KeyObject): SigningAlg {
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < 2048) throw new Error(`an RSA key must have at least 2048 bits, this one has ${bits}`)
    return 'RS256'
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}: use an RSA key (RS256) or an EC P-256 key (ES256)`)
}

/** A PEM private key (PKCS#8, PKCS#1 or SEC1). */
export function parsePrivateKey (pem: string): SigningKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem.replaceAll('\\n', '\n'))
  } catch {
    throw new Error('not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)')
  }
  return { alg: algOf(privateKey), privateKey, publicKey: createPublicKey(privateKey) }
}

/** Zero or more PEM keys, private or public; only their public halves are kept. */
export function parseKeyList (pems: string | undefined): PublicKeyEntry[] {
  if (pems === undefined || pems.trim() === '') return []
  const blocks = pems.replaceAll('\\n', '\n').match(PEM_BLOCK)
  if (blocks === null) throw new Error('no PEM key found')
  return blocks.map((block, index) => {
    let publicKey: KeyObject
    try {
      publicKey = createPublicKey(block)
    } catch {
      throw new Error(`key ${index + 1} is not a valid PEM key`)
    }
    return { alg: algOf(publicKey), publicKey }
  })
}

/** A fresh RSA key, as PKCS#8 PEM, for development. */
export function generateSigningKeyPem (): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/** The public JWK of a key, with use, alg and its thumbprint as kid. */
export async function publicJwk (entry: PublicKeyEntry): Promise<PublishedJwk> {
  const jwk = await exportJWK(entry.publicKey)
  const kid = await calculateJwkThumbprint(jwk, 'sha256')
  return { ...jwk, kty: jwk.kty ?? '', kid, alg: entry.alg, use: 'sig' }
}
