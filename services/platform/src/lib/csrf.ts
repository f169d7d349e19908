import { randomBytes, timingSafeEqual } from 'node:crypto'

export function randomToken (bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** Constant-time comparison of two tokens; a missing token never matches. */
export function tokensMatch (expected: string | undefined, given: string | undefined): boolean {
  if (expected === undefined || given === undefined || expected === '') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}
