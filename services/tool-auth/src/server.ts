// Tracing starts first and the rest is imported after it: the SDK hooks
// node:http, Fastify and ioredis as they load (a static import would load them before).
await import('./tracing.js')
const { startService } = await import('@ltilaunch/service-kit')
const { default: app } = await import('./app.js')
const { readConfig } = await import('./config.js')

await startService({ service: 'tool-auth', app, loadConfig: readConfig })
