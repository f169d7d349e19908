// The image's HEALTHCHECK: GET /healthz on this container's own port.
// The slim base image has no curl; Node 20's fetch does the job.
const defaults = { platform: 3000, 'tool-auth': 3001, 'spawner-broker': 3002 }
const port = process.env.PORT || defaults[process.env.LTILAUNCH_SERVICE] || 3000
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2500) })
  process.exit(response.ok ? 0 : 1)
} catch {
  process.exit(1)
}
