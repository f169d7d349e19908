import { boundedLabel, Counter, launchStepHistogram, replyCodeLabel } from '@ltilaunch/service-kit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/** How a request ended, for the outcome label. */
function outcomeOf (statusCode: number): 'accepted' | 'refused' | 'failed' {
  return statusCode < 400 ? 'accepted' : statusCode < 500 ? 'refused' : 'failed'
}

// The routes whose replies are a step of a launch, by method and route pattern.
const STEPS: Record<string, 'login' | 'callback'> = {
  'GET /lti13/login': 'login',
  'POST /lti13/login': 'login',
  'GET /lti13/oauth_login': 'login',
  'POST /lti13/oauth_login': 'login',
  'POST /lti13/oauth_callback': 'callback',
  'POST /lti13/launch': 'callback'
}

// The OAuth2 endpoints the hub calls.
const OAUTH_ENDPOINTS: Record<string, 'authorize' | 'token' | 'userinfo'> = {
  '/oauth2/authorize': 'authorize',
  '/oauth2/token': 'token',
  '/oauth2/userinfo': 'userinfo'
}

export interface ToolAuthMetrics {
  /**
   * The issuer a request is about, once `platforms.get` vouched for it
   * (configured or registered by the operator): the issuer label of its
   * launch or login. Requests that never get this far count as `unknown`.
   */
  issuer: (request: FastifyRequest, issuer: string) => void
  /** Counts one fetch of an issuer's JWKS. */
  jwksFetched: (issuer: string, ok: boolean) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    toolMetrics: ToolAuthMetrics
  }
}

/**
 * tool-auth's own series: launches and logins by outcome, error code and
 * issuer; how long each step took; JWKS fetches per issuer; the hub's calls
 * to the OAuth2 endpoints. Labels stay bounded: an issuer is a label only
 * once the platforms vouched for it; never a user, launch or course.
 */
export default fp(async function toolAuthMetricsPlugin (fastify) {
  const registry = fastify.metrics.registry
  const launches = new Counter({
    name: 'ltilaunch_launches_total',
    help: 'LTI launches (id_token posts) by outcome (accepted, refused, failed), error code and issuer',
    labelNames: ['outcome', 'code', 'issuer'],
    registers: [registry]
  })
  const logins = new Counter({
    name: 'ltilaunch_logins_total',
    help: 'OIDC login initiations by outcome, error code and issuer',
    labelNames: ['outcome', 'code', 'issuer'],
    registers: [registry]
  })
  const steps = launchStepHistogram(registry)
  const jwksFetches = new Counter({
    name: 'ltilaunch_jwks_fetches_total',
    help: 'fetches of a platform\'s JWKS by issuer and outcome (ok, error)',
    labelNames: ['issuer', 'outcome'],
    registers: [registry]
  })
  const oauthRequests = new Counter({
    name: 'ltilaunch_oauth_requests_total',
    help: 'the hub\'s calls to the OAuth2 endpoints (authorize, token, userinfo) by status code',
    labelNames: ['endpoint', 'status_code'],
    registers: [registry]
  })

  const issuers = new WeakMap<FastifyRequest, string>()
  fastify.decorate('toolMetrics', {
    issuer: (request: FastifyRequest, issuer: string) => { issuers.set(request, issuer) },
    jwksFetched: (issuer: string, ok: boolean) => { jwksFetches.inc({ issuer, outcome: ok ? 'ok' : 'error' }) }
  })

  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url
    if (route === undefined) return
    const step = STEPS[`${request.method} ${route}`]
    if (step !== undefined) {
      const outcome = outcomeOf(reply.statusCode)
      const labels = { outcome, code: replyCodeLabel(reply), issuer: boundedLabel(issuers.get(request), () => true) }
      if (step === 'login') logins.inc(labels)
      else launches.inc(labels)
      steps.observe({ step, outcome }, reply.elapsedTime / 1000)
      return
    }
    const endpoint = OAUTH_ENDPOINTS[route]
    if (endpoint !== undefined) oauthRequests.inc({ endpoint, status_code: String(reply.statusCode) })
  })
}, { name: 'tool-auth-metrics', dependencies: ['ltilaunch-metrics'] })
