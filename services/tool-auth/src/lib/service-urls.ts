import { isHttpUrl } from '@ltilaunch/service-kit'
import type { Platform } from '../config.js'

function hostOf (url: string | undefined): string | undefined {
  if (!isHttpUrl(url)) return undefined
  return new URL(url).host.toLowerCase()
}

/**
 * The hosts a platform vouches for: those of its issuer and of its
 * configured endpoints (authorization, key set, token), and its
 * service_hosts. A launch's service URLs must be on one of them, so that a
 * forged or careless claim cannot send the tool (with a platform access
 * token) to another host.
 */
export function platformHosts (platform: Platform): string[] {
  const derived = [platform.issuer, platform.authorizeUrl, platform.jwksEndpoint, platform.tokenUrl].map(hostOf)
  return [...new Set([...derived.filter((host): host is string => host !== undefined), ...platform.serviceHosts])]
}

/** Whether a service URL (line items, a line item, memberships) is http(s) and on a host of its platform. */
export function serviceUrlAllowed (value: unknown, platform: Platform): value is string {
  if (!isHttpUrl(value)) return false
  const url = new URL(value)
  const host = url.host.toLowerCase()
  const hostname = url.hostname.toLowerCase()
  return platformHosts(platform).some((entry) => {
    if (entry.startsWith('*.')) return hostname.endsWith(entry.slice(1)) && hostname.length > entry.length - 1
    return entry.includes(':') ? entry === host : entry === host || entry === hostname
  })
}
