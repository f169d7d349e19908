import Fastify from 'fastify'
import type { Test } from 'tap'

export interface FakeBroker {
  url: string
  /** Every POST /v1/launches received. */
  calls: Array<{ headers: Record<string, unknown>, body: Record<string, unknown> }>
  mode: 'ok' | 'refuse-image' | 'error' | 'flaky' | 'unauthorized' | 'roster-error'
  /** Every POST /v1/rosters received (its body). */
  rosters: Array<{ course: { id: string }, namespace?: { prefix: string, suffix: string }, members: Array<{ username: string, role: string, active: boolean }> }>
}

/** A fake spawner-broker: records launches and answers as the broker API contract says. */
export async function startBroker (t: Test): Promise<FakeBroker> {
  const server = Fastify()
  const broker: FakeBroker = { url: '', calls: [], mode: 'ok', rosters: [] }
  const launches = new Map<string, string>()
  server.post('/v1/launches', async (request, reply) => {
    broker.calls.push({ headers: request.headers, body: request.body as Record<string, unknown> })
    if (broker.mode === 'flaky') {
      // Accept the launch but lose the reply: the caller's retry must get the same launch.
      broker.mode = 'ok'
      launches.set(String(request.headers['idempotency-key']), `launch-${launches.size + 1}`)
      return await reply.code(503).send({ statusCode: 503, code: 'BROKER_STORE_UNAVAILABLE', message: 'blip' })
    }
    if (broker.mode === 'unauthorized' || request.headers.authorization !== 'Bearer test-broker-token-0123456789') {
      return await reply.code(401).send({ statusCode: 401, code: 'BROKER_UNAUTHORIZED', message: 'bad token' })
    }
    if (broker.mode === 'refuse-image') {
      return await reply.code(422).send({ statusCode: 422, code: 'BROKER_IMAGE_NOT_ALLOWED', message: 'The image "evil/miner" is not allowed; allowed: minimal, scipy, pytorch.' })
    }
    if (broker.mode === 'error') return await reply.code(503).send({ statusCode: 503, code: 'BROKER_STORE_UNAVAILABLE', message: 'down' })
    const key = String(request.headers['idempotency-key'])
    const existing = launches.get(key)
    const id = existing ?? `launch-${launches.size + 1}`
    launches.set(key, id)
    return await reply.code(existing ? 200 : 201).send({
      id,
      status: 'pending',
      image: 'quay.io/jupyter/scipy-notebook:latest',
      serverName: 'ds101',
      progressUrl: `${broker.url}/launches/${id}`,
      statusUrl: `${broker.url}/v1/launches/${id}`
    })
  })
  // Rosters: recorded, and counted as a hub that had nobody yet would count them.
  server.post('/v1/rosters', async (request, reply) => {
    if (request.headers.authorization !== 'Bearer test-broker-token-0123456789') {
      return await reply.code(401).send({ statusCode: 401, code: 'BROKER_UNAUTHORIZED', message: 'bad token' })
    }
    if (broker.mode === 'error' || broker.mode === 'roster-error') return await reply.code(503).send({ statusCode: 503, code: 'BROKER_ROSTER_HUB_UNAVAILABLE', message: 'down' })
    const roster = request.body as FakeBroker['rosters'][number]
    broker.rosters.push(roster)
    const active = roster.members.filter((m) => m.active).length
    const prefix = roster.namespace?.prefix ?? ''
    const suffix = roster.namespace?.suffix ?? ''
    return { group: `course:${prefix}${roster.course.id}${suffix}`, created: active, grouped: active, unchanged: 0, removed: 0, inactive: roster.members.length - active }
  })
  // The policy's images, as the real broker lists them (aliases as references).
  server.get('/v1/images', async (request, reply) => {
    if (request.headers.authorization !== 'Bearer test-broker-token-0123456789') {
      return await reply.code(401).send({ statusCode: 401, code: 'BROKER_UNAUTHORIZED', message: 'bad token' })
    }
    if (broker.mode === 'error') return await reply.code(503).send({ statusCode: 503, code: 'BROKER_STORE_UNAVAILABLE', message: 'down' })
    return {
      images: [
        { reference: 'minimal', image: 'quay.io/jupyter/minimal-notebook:latest', name: 'Minimal', staffOnly: false },
        { reference: 'pytorch', image: 'quay.io/jupyter/pytorch-notebook:latest', name: 'PyTorch', description: 'Deep learning with PyTorch', staffOnly: false }
      ],
      default: 'quay.io/jupyter/minimal-notebook:latest',
      patterns: []
    }
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  broker.url = `http://127.0.0.1:${(server.addresses()[0] as { port: number }).port}`
  return broker
}

/** A URL where nothing listens: a broker that is down. */
export async function deadUrl (): Promise<string> {
  const server = Fastify()
  await server.listen({ host: '127.0.0.1', port: 0 })
  const port = (server.addresses()[0] as { port: number }).port
  await server.close()
  return `http://127.0.0.1:${port}`
}
