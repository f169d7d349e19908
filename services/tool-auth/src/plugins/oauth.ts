import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { HubUserInfo } from '@ltilaunch/claims'
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
  /** Opens (or renews) a grant and issues tokens; undefined when the grant was revoked meanwhile. */
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
  /** Remembers the latest launch of a user, so a refresh brings the hub today's groups. */
  rememberLatest: (userinfo: HubUserInfo) => Promise<void>
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

  async function issueTokens (grantId: string, grant: Grant): Promise<TokenReply | undefined> {
    const access = token()
    const refresh = token()
    await store.set(`grant:${grantId}`, grant, config.REFRESH_TOKEN_TTL)
    // Checked after the write: a revocation either shows here, or comes later and deletes what we wrote.
    if (await store.get(`revoked:${grantId}`) !== undefined) {
      await store.delete(`grant:${grantId}`)
      return undefined
    }
    await store.put(`at:${hashed(access)}`, { grantId }, config.ACCESS_TOKEN_TTL)
    await store.put(`rt:${hashed(refresh)}`, { grantId }, config.REFRESH_TOKEN_TTL)
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
      await store.put(`code-used:${key}`, { grantId }, usedTtl)
      return { ok: true, value: record, grantId }
    },
    issueTokens,
    async refresh (refreshToken: string): Promise<Redeemed<Grant>> {
      const key = hashed(refreshToken)
      const record = await store.take<{ grantId: string }>(`rt:${key}`)
      if (record === undefined) {
        const used = await store.get<{ grantId: string }>(`rt-used:${key}`)
        if (used === undefined) return { ok: false, reused: false }
        await revoke(used.grantId)
        return { ok: false, reused: true }
      }
      await store.put(`rt-used:${key}`, { grantId: record.grantId }, config.REFRESH_TOKEN_TTL)
      const grant = await store.get<Grant>(`grant:${record.grantId}`)
      if (grant === undefined) return { ok: false, reused: false }
      const latest = await store.get<HubUserInfo>(`latest:${grant.userinfo.name}`)
      return { ok: true, value: latest === undefined ? grant : { ...grant, userinfo: latest }, grantId: record.grantId }
    },
    async userinfo (accessToken: string): Promise<HubUserInfo | undefined> {
      const record = await store.get<{ grantId: string }>(`at:${hashed(accessToken)}`)
      if (record === undefined) return undefined
      const grant = await store.get<Grant>(`grant:${record.grantId}`)
      if (grant === undefined) return undefined
      return await store.get<HubUserInfo>(`latest:${grant.userinfo.name}`) ?? grant.userinfo
    },
    revoke,
    async rememberLatest (userinfo: HubUserInfo): Promise<void> {
      await store.set(`latest:${userinfo.name}`, userinfo, config.REFRESH_TOKEN_TTL)
    }
  })
}, { name: 'tool-auth-oauth' })
