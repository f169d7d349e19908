/**
 * The score webhook's signature, as Stripe and GitHub sign theirs: an
 * HMAC-SHA256, under the shared secret, of the attempt's Unix time, a dot
 * and the exact body; sent as `ltilaunch-signature: t=<time>,v1=<hex>`. A
 * receiver recomputes it, compares in constant time and refuses an old `t`
 * (a replay).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'ltilaunch-signature'

export function signatureHeader (secret: string, body: string, unixSeconds: number): string {
  const digest = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')
  return `t=${unixSeconds},v1=${digest}`
}

/** Whether a header signs this body under the secret, at most `toleranceSeconds` ago (what a receiver does). */
export function verifySignature (secret: string, body: string, header: string, toleranceSeconds = 300, now = Math.floor(Date.now() / 1000)): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.trim().split('=', 2) as [string, string]))
  const t = Number(parts.t)
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceSeconds || typeof parts.v1 !== 'string') return false
  const expected = Buffer.from(signatureHeader(secret, body, t).split('v1=')[1] as string, 'hex')
  const given = Buffer.from(parts.v1, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}
