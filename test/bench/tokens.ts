import http from 'node:http'
import { randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose'
import { freePort } from './lib/processes.js'

/**
 * A bench platform: an RSA 2048 key, an id_token shaped like the ones real
 * platforms send, and a JWKS served from this process, so that tool-auth,
 * ltijs and ltiauthenticator can all be given the same issuer and verify
 * the very same kind of token.
 */

const CLAIM = 'https://purl.imsglobal.org/spec/lti/claim/'

export interface SigningKey {
  privateKey: CryptoKey
  publicKey: CryptoKey
  publicJwk: JWK
  kid: string
}

export async function makeSigningKey (): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })
  const publicJwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(publicJwk)
  return { privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' }, kid }
}

export interface LaunchTokenInput {
  issuer: string
  clientId: string
  deploymentId: string
  nonce: string
  targetLinkUri: string
  user: number
  image?: string
  courseName?: string
  lifetimeSeconds?: number
}

/** A complete LtiResourceLinkRequest payload, about as large as Canvas or Moodle send. */
export function launchPayload (input: LaunchTokenInput): JWTPayload {
  const now = Math.floor(Date.now() / 1000)
  const user = `bench-user-${input.user}`
  return {
    iss: input.issuer,
    aud: input.clientId,
    azp: input.clientId,
    sub: `a6d5c443-1f51-4783-ba1a-${String(input.user).padStart(12, '0')}`,
    iat: now,
    exp: now + (input.lifetimeSeconds ?? 300),
    nonce: input.nonce,
    name: `Bench User ${input.user}`,
    given_name: 'Bench',
    family_name: `User ${input.user}`,
    email: `${user}@example.edu`,
    locale: 'en-US',
    [`${CLAIM}message_type`]: 'LtiResourceLinkRequest',
    [`${CLAIM}version`]: '1.3.0',
    [`${CLAIM}deployment_id`]: input.deploymentId,
    [`${CLAIM}target_link_uri`]: input.targetLinkUri,
    [`${CLAIM}resource_link`]: { id: 'bench-resource-link-1', title: 'Week 1 notebook', description: 'The first notebook of the course' },
    [`${CLAIM}roles`]: [
      'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
      'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student'
    ],
    [`${CLAIM}context`]: {
      id: 'bench-course-6-0001',
      label: '6.0001',
      title: 'Introduction to Computer Science and Programming in Python',
      type: ['http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering']
    },
    [`${CLAIM}tool_platform`]: {
      guid: 'bench-platform-guid',
      name: 'ltilaunch bench platform',
      product_family_code: 'ltilaunch',
      version: '1.0'
    },
    [`${CLAIM}launch_presentation`]: { document_target: 'window', return_url: `${input.issuer}/courses/1`, locale: 'en-US' },
    [`${CLAIM}custom`]: {
      image: input.image ?? 'quay.io/jupyter/minimal-notebook:latest',
      course_name: input.courseName ?? '6.0001'
    },
    [`${CLAIM}lis`]: { person_sourcedid: user, course_section_sourcedid: '6.0001-fall' }
  }
}

export async function signPayload (key: SigningKey, payload: JWTPayload): Promise<string> {
  return await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey)
}

export interface BenchPlatform {
  issuer: string
  jwksUrl: string
  authorizeUrl: string
  key: SigningKey
  clientId: string
  deploymentId: string
  /** How many times the JWKS was fetched (ltijs fetches it on every launch). */
  jwksFetches: () => number
  close: () => Promise<void>
}

export async function startBenchPlatform (options: { clientId?: string } = {}): Promise<BenchPlatform> {
  const key = await makeSigningKey()
  const body = JSON.stringify({ keys: [key.publicJwk] })
  let fetches = 0
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/jwks') || req.url?.startsWith('/.well-known/jwks.json')) {
      fetches++
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' })
      res.end(body)
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('the bench platform serves only its JWKS; its authorize URL is never followed')
  })
  server.keepAliveTimeout = 60000
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${port}`
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    authorizeUrl: `${issuer}/authorize`,
    key,
    clientId: options.clientId ?? `bench-client-${randomUUID().slice(0, 8)}`,
    deploymentId: '1',
    jwksFetches: () => fetches,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
