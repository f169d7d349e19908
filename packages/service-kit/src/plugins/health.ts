import fp from 'fastify-plugin'
import { Type } from 'typebox'

export type ReadinessCheck = () => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    /** Adds a dependency that /readyz asks; a check rejects when the dependency is down. */
    addReadinessCheck: (name: string, check: ReadinessCheck) => void
  }
}

const CHECK_TIMEOUT_MS = 2000

const HealthReply = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  service: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String()))
})

/**
 * `/healthz`: the process answers (liveness). `/readyz`: the store and every
 * registered dependency answer (readiness); 503 with Retry-After otherwise.
 */
export default fp<{ service: string }>(async function healthPlugin (fastify, options) {
  const checks = new Map<string, ReadinessCheck>()
  checks.set('store', async () => await fastify.store.ping())
  fastify.decorate('addReadinessCheck', (name: string, check: ReadinessCheck) => {
    checks.set(name, check)
  })

  fastify.get('/healthz', {
    schema: { response: { 200: HealthReply } },
    logLevel: 'warn'
  }, async () => ({ status: 'ok' as const, service: options.service }))

  fastify.get('/readyz', {
    schema: { response: { 200: HealthReply, 503: HealthReply } },
    logLevel: 'warn'
  }, async (_request, reply) => {
    const results: Record<string, string> = {}
    let ready = true
    await Promise.all([...checks].map(async ([name, check]) => {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS)
        results[name] = 'ok'
      } catch (err) {
        ready = false
        results[name] = (err as Error).message
      }
    }))
    if (!ready) reply.code(503).header('retry-after', '5')
    return { status: ready ? 'ok' as const : 'unavailable' as const, service: options.service, checks: results }
  })
}, { name: 'ltilaunch-health', fastify: '5.x', dependencies: ['ltilaunch-store'] })

async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
