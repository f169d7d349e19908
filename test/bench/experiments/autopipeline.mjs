// Bench-only experiment (--experiment autopipeline): loaded into a service
// with `node --import`, it turns on ioredis's enableAutoPipelining for every
// client the process creates, so that the commands issued in one event-loop
// tick share one socket write. It measures what that option would change;
// it changes no service code.
import { createRequire } from 'node:module'
import path from 'node:path'

// Resolve ioredis the way the service kit does, so this is the same module instance.
const kit = path.resolve(import.meta.dirname, '../../../packages/service-kit/package.json')
const ioredis = createRequire(kit)('ioredis')
const defaults = ioredis.Redis?.defaultOptions ?? ioredis.default?.defaultOptions
if (defaults) defaults.enableAutoPipelining = true
else process.stderr.write('autopipeline experiment: ioredis defaultOptions not found; nothing changed\n')
