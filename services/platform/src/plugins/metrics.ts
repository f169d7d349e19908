import { Counter, replyCodeLabel } from '@ltilaunch/service-kit'
import fp from 'fastify-plugin'

// The routes whose outcome an operator follows, by method and route pattern.
const COUNTED: Record<string, 'id_token' | 'launch_api'> = {
  'GET /lti/authorize': 'id_token',
  'POST /lti/authorize': 'id_token',
  'POST /api/v1/launches': 'launch_api'
}

/**
 * The platform's own series: id_tokens issued at the authorization endpoint
 * and the host sites' launch API calls, by outcome and error code.
 */
export default fp(async function platformMetricsPlugin (fastify) {
  const requests = new Counter({
    name: 'ltilaunch_platform_launches_total',
    help: 'the platform\'s side of launches: id_tokens issued (id_token) and host-site launch API calls (launch_api), by outcome and error code',
    labelNames: ['kind', 'outcome', 'code'],
    registers: [fastify.metrics.registry]
  })
  fastify.addHook('onResponse', async (request, reply) => {
    const kind = COUNTED[`${request.method} ${request.routeOptions.url ?? ''}`]
    if (kind === undefined) return
    const status = reply.statusCode
    const outcome = status < 400 ? 'accepted' : status < 500 ? 'refused' : 'failed'
    requests.inc({ kind, outcome, code: replyCodeLabel(reply) })
  })
}, { name: 'platform-metrics', dependencies: ['ltilaunch-metrics'] })
