/**
 * Password hashes for the demo users: scrypt, stored as
 * `scrypt:<N>:<r>:<p>:<salt base64>:<hash base64>`, checked in constant time.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const KEY_LENGTH = 32
const DEFAULTS = { N: 16384, r: 8, p: 1 }
const FORMAT = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/

async function scrypt (password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    scryptCallback(password, salt, length, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => err ? reject(err) : resolve(key))
  })
}

export function isPasswordHash (value: string): boolean {
  return FORMAT.test(value)
}

export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, KEY_LENGTH, DEFAULTS)
  return `scrypt:${DEFAULTS.N}:${DEFAULTS.r}:${DEFAULTS.p}:${salt.toString('base64')}:${hash.toString('base64')}`
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
