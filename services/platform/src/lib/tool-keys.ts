/**
 * Tools' public keys, fetched from their registered jwks_uri: what verifies
 * a deep linking response and a client assertion at the token endpoint.
 */
import { createRemoteJWKSet, errors as joseErrors } from 'jose'

export type ToolKeySet = ReturnType<typeof createRemoteJWKSet>

const keySets = new Map<string, ToolKeySet>()

/** The tool's key set, fetched and cached by jose (refetched on an unknown kid). A cache only: any replica rebuilds it. */
export function toolKeySet (jwksUri: string): ToolKeySet {
  let keySet = keySets.get(jwksUri)
  if (keySet === undefined) {
    keySet = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000 })
    keySets.set(jwksUri, keySet)
  }
  return keySet
}

/** The signature algorithms a tool may sign with. */
export const TOOL_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256']

/** Whether a verification failed because the key set could not be fetched (timeout, a non-200, a network error): the tool's side, try later. */
export function isKeySetUnavailable (err: unknown): boolean {
  return err instanceof joseErrors.JWKSTimeout || err instanceof TypeError || (err instanceof joseErrors.JOSEError && /Expected 200 OK/.test(err.message))
}
