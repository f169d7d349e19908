/**
 * Launch API keys are configured as their SHA-256 digests, so a leaked
 * config does not leak a usable key; a presented key is hashed and compared
 * with every digest in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

const ENTRY = /^sha256:([0-9a-f]{64})$/i

export function hashApiKey (key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`
}

export function parseApiKeyHashes (value: string | undefined): Buffer[] {
  if (value === undefined) return []
  return value.split(/[\s,]+/).filter((entry) => entry !== '').map((entry, index) => {
    const match = ENTRY.exec(entry)
    if (match === null) {
      throw new Error(`entry ${index + 1} is not sha256:<64 hex digits>; store the hash of a key, never the key (see the README)`)
    }
    return Buffer.from(match[1] as string, 'hex')
  })
}

/** Whether the key matches one of the digests; looks at every digest, whatever matched. */
export function apiKeyMatches (presented: string, digests: Buffer[]): boolean {
  const digest = createHash('sha256').update(presented, 'utf8').digest()
  let found = false
  for (const expected of digests) {
    if (timingSafeEqual(digest, expected)) found = true
  }
  return found
}
