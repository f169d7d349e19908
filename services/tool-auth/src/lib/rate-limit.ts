import type { ToolAuthConfig } from '../config.js'

/** Per-route rate limit settings (ignored when RATE_LIMIT_MAX is 0 and the plugin is not registered). */
export function rateLimited (config: ToolAuthConfig) {
  return { max: Math.max(config.RATE_LIMIT_MAX, 1), timeWindow: '1 minute' }
}
