import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { HubUserInfo } from '@ltilaunch/claims'
import type { StoreOperation } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'
import type { OAuthClient } from '../config.js'

/** What an authorization code stands for until the hub redeems it. */
export interface CodeRecord {
  clientId: string
  /** The redirect_uri sent to /oauth2/authorize, if one was (the token request must repeat it). */
  redirectUri?: string
  /** PKCE S256 challenge. */
  codeChallenge?: string
  scope: string
  userinfo: HubUserInfo
}

/** A grant: the tokens issued from one code, and their refreshes. Deleting it revokes them all. */
export interface Grant {
  clientId: string
  scope: string
  userinfo: HubUserInfo
}

export interface TokenReply {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token: string
  scope: string
}

export type Redeemed<T> = { ok: true, value: T, grantId: string } | { ok: false, reused: boolean }

export interface OAuth {
  client: (clientId: string) => OAuthClient | undefined
  /** Constant-time comparison of a presented secret with the client's. */
  secretMatches: (client: OAuthClient, secret: string) => boolean
  issueCode: (record: CodeRecord) => Promise<string>
  /** Takes a code once. A second use reports `reused` and revokes the tokens the first use issued. */
  redeemCode: (code: string) => Promise<Redeemed<CodeRecord>>
  /** Opens (or renews) a grant and issues tokens, in one round trip; undefined when the grant was revoked meanwhile. */
  issueTokens: (grantId: string, grant: Grant) => Promise<TokenReply | undefined>
  /** Rotates a refresh token. A rotated one used again revokes the grant. */
  refresh: (refreshToken: string) => Promise<Redeemed<Grant>>
  /**
   * The user an access token speaks for, while it and its grant live: the
   * user's latest launch (the hub re-reads userinfo before each spawn and
   * should see today's course, role and image), else what the grant began with.
   */
  userinfo: (accessToken: string) => Promise<HubUserInfo | undefined>
  revoke: (grantId: string) => Promise<void>
  /** The write that remembers a user's latest launch, so a refresh brings the hub today's groups. */
  rememberLatest: (userinfo: HubUserInfo) => StoreOperation
}

declare module 'fastify' {
  interface FastifyInstance {
    oauth: OAuth
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()
/** Store keys hold hashes of codes and tokens, never the values themselves. */
const hashed = (value: string): string => digest(value).toString('base64url')
const token = (): string => randomBytes(32).toString('base64url')

/** What an access or refresh token's key holds. `name` is absent in tokens issued before it was kept. */
interface TokenRecord {
  grantId: string
  name?: string
}

export default fp(async function oauthPlugin (fastify) {
  const { store } = fastify
  const config = fastify.config
  const clients = new Map(config.oauthClients.map((client) => [client.clientId, client]))
  const usedTtl = Math.max(config.REFRESH_TOKEN_TTL, config.ACCESS_TOKEN_TTL)

  // A revocation leaves a marker as well as deleting the grant: a reuse of a
  // code racing its first use may revoke before the grant is written.
  async function revoke (grantId: string): Promise<void> {
    await store.set(`revoked:${grantId}`, 1, usedTtl)
    await store.delete(`grant:${grantId}`)
  }

  /** A token's grant and its user's latest launch, read together (after `before`, in the same round trip). */
  async function readGrant (record: TokenRecord, before: StoreOperation[] = []): Promise<[Grant | undefined, HubUserInfo | undefined]> {
    const results = await store.batch([
      ...before,
      { op: 'get', key: `grant:${record.grantId}` },
      ...(record.name !== undefined ? [{ op: 'get', key: `latest:${record.name}` } as const] : [])
    ])
    const grant = results[before.length] as Grant | undefined
    if (grant === undefined) return [undefined, undefined]
    if (record.name !== undefined) return [grant, results[before.length + 1] as HubUserInfo | undefined]
    return [grant, await store.get<HubUserInfo>(`latest:${grant.userinfo.name}`)]
  }

  async function issueTokens (grantId: string, grant: Grant): Promise<TokenReply | undefined> {
    const access = token()
    const refresh = token()
    // The tokens name their user, so that userinfo can read the grant and the latest launch together.
    const tokenRecord: TokenRecord = { grantId, name: grant.userinfo.name }
    const [, revoked] = await store.batch([
      { op: 'set', key: `grant:${grantId}`, value: grant, ttlSeconds: config.REFRESH_TOKEN_TTL },
      // Read after the write: a revocation either shows here, or comes later and deletes what we wrote.
      { op: 'get', key: `revoked:${grantId}` },
      { op: 'set', key: `at:${hashed(access)}`, value: tokenRecord, ttlSeconds: config.ACCESS_TOKEN_TTL },
      { op: 'set', key: `rt:${hashed(refresh)}`, value: tokenRecord, ttlSeconds: config.REFRESH_TOKEN_TTL }
    ])
    if (revoked !== undefined) {
      // The tokens just written lead to no grant: they are worthless.
      await store.delete(`grant:${grantId}`)
      return undefined
    }
    return { access_token: access, token_type: 'Bearer', expires_in: config.ACCESS_TOKEN_TTL, refresh_token: refresh, scope: grant.scope }
  }

  fastify.decorate('oauth', {
    client: (clientId: string) => clients.get(clientId),
    secretMatches (client: OAuthClient, secret: string): boolean {
      // Hashing first gives equal lengths, so the comparison leaks nothing about the secret.
      return timingSafeEqual(digest(client.clientSecret), digest(secret))
    },
    async issueCode (record: CodeRecord): Promise<string> {
      const code = token()
      await store.put(`code:${hashed(code)}`, record, config.AUTH_CODE_TTL)
      return code
    },
    async redeemCode (code: string): Promise<Redeemed<CodeRecord>> {
      const key = hashed(code)
      const record = await store.take<CodeRecord>(`code:${key}`)
      if (record === undefined) {
        const used = await store.get<{ grantId: string }>(`code-used:${key}`)
        if (used === undefined) return { ok: false, reused: false }
        await revoke(used.grantId)
        return { ok: false, reused: true }
      }
      const grantId = token()
      // Written at once, not with the tokens: a second use racing this one must find it as early as possible.
      await store.put(`code-used:${key}`, { grantId }, usedTtl)
      return { ok: true, value: record, grantId }
    },
    issueTokens,
    async refresh (refreshToken: string): Promise<Redeemed<Grant>> {
      const key = hashed(refreshToken)
      const record = await store.take<TokenRecord>(`rt:${key}`)
      if (record === undefined) {
        const used = await store.get<{ grantId: string }>(`rt-used:${key}`)
        if (used === undefined) return { ok: false, reused: false }
        await revoke(used.grantId)
        return { ok: false, reused: true }
      }
      const rotated: StoreOperation = { op: 'set', key: `rt-used:${key}`, value: { grantId: record.grantId }, ttlSeconds: config.REFRESH_TOKEN_TTL }
      const [grant, latest] = await readGrant(record, [rotated])
      if (grant === undefined) return { ok: false, reused: false }
      return { ok: true, value: latest === undefined ? grant : { ...grant, userinfo: latest }, grantId: record.grantId }
    },
    async userinfo (accessToken: string): Promise<HubUserInfo | undefined> {
      const record = await store.get<TokenRecord>(`at:${hashed(accessToken)}`)
      if (record === undefined) return undefined
      const [grant, latest] = await readGrant(record)
      if (grant === undefined) return undefined
      return latest ?? grant.userinfo
    },
    revoke,
    rememberLatest: (userinfo: HubUserInfo): StoreOperation =>
      ({ op: 'set', key: `latest:${userinfo.name}`, value: userinfo, ttlSeconds: config.REFRESH_TOKEN_TTL })
  })
}, { name: 'tool-auth-oauth' })
