// The HTTP floor (bench section `limit`): a Fastify server with one route
// and nothing else, from the same fastify the services use. Its CPU per
// request is what any service pays before doing any work of its own.
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.resolve(import.meta.dirname, '../../../services/platform/package.json'))
const fastify = require('fastify')({ logger: false })
fastify.get('/hello', async () => ({ hello: 'world' }))
await fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGTERM', () => { fastify.close().then(() => process.exit(0)) })
