/**
 * Password hashes for the demo users: scrypt, stored as
 * `scrypt:<N>:<r>:<p>:<salt base64>:<hash base64>`, checked in constant time.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const KEY_LENGTH = 32
const DEFAULTS = { N: 16384, r: 8, p: 1 }
const MAX_MEMORY = 64 * 1024 * 1024
const FORMAT = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/

async function scrypt (password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    scryptCallback(password, salt, length, { ...options, maxmem: MAX_MEMORY }, (err, key) => err ? reject(err) : resolve(key))
  })
}

/** Whether a stored hash has our format and cost parameters this process can check (N a power of two, memory bounded). */
export function isPasswordHash (value: string): boolean {
  const match = FORMAT.exec(value)
  if (match === null) return false
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])]
  return N > 1 && (N & (N - 1)) === 0 && r > 0 && p > 0 && 128 * N * r < MAX_MEMORY
}

/** A new hash; the cost parameters are stored with it, so they can be raised later without breaking old hashes. */
export async function hashPassword (password: string, cost: { N: number, r: number, p: number } = DEFAULTS): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, KEY_LENGTH, cost)
  return `scrypt:${cost.N}:${cost.r}:${cost.p}:${salt.toString('base64')}:${hash.toString('base64')}`
}

// Checked when a user is unknown, so that the answer takes as long as for a known one.
const DECOY = `scrypt:${DEFAULTS.N}:${DEFAULTS.r}:${DEFAULTS.p}:${Buffer.alloc(16).toString('base64')}:${Buffer.alloc(KEY_LENGTH).toString('base64')}`

export async function verifyPassword (password: string, stored: string | undefined): Promise<boolean> {
  const match = FORMAT.exec(stored ?? DECOY) ?? FORMAT.exec(DECOY)
  if (match === null) return false
  const [, N, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string]
  const expected = Buffer.from(hash, 'base64')
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(N), r: Number(r), p: Number(p) })
  return timingSafeEqual(actual, expected) && stored !== undefined
}
