import { LTI_CLAIM } from '@ltilaunch/claims'
import { redisStoreForTest } from '@ltilaunch/service-kit/testing'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { WEBHOOK_FAILED_MAP, WEBHOOK_QUEUE_MAP } from '../../src/plugins/score-webhook.js'
import { SIGNATURE_HEADER, verifySignature } from '../../src/lib/webhook-signature.js'
import { accessToken, call, launch, score, SCORE_TYPE, setup, type ToolKeys } from '../lti-services.js'

const SECRET = 'test-webhook-secret-0123456789abcdef'

/** A host site's webhook receiver over real HTTP: it answers `failures` 500s, then 200s, and keeps what it got. */
async function receiver (t: Test, failures: number) {
  const got: Array<{ headers: Record<string, unknown>, body: string, status: number }> = []
  const server = Fastify()
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })
  let left = failures
  server.post('/hooks/scores', async (request, reply) => {
    const status = left > 0 ? 500 : 200
    left--
    got.push({ headers: request.headers, body: request.body as string, status })
    return await reply.code(status).send({ ok: status === 200 })
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await server.close())
  return { url: `http://127.0.0.1:${(server.addresses()[0] as { port: number }).port}/hooks/scores`, got }
}

async function until (what: string, check: () => boolean | Promise<boolean>, seconds = 20): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('each score goes to the host\'s webhook, signed; a failed delivery is retried from the store, also by a restarted platform', async (t) => {
  const hook = await receiver(t, 1)
  const store = await redisStoreForTest(t, 'platform-webhook')
  if (store === undefined) return
  const env = { PLATFORM_SCORE_WEBHOOK_URL: hook.url, PLATFORM_SCORE_WEBHOOK_SECRET: SECRET, PLATFORM_SCORE_WEBHOOK_BACKOFF: '1' }
  const first = await setup(t, env, store)
  const ada = await launch(first.app, 'ada', 'grader')
  const lineItem = (ada[LTI_CLAIM.agsEndpoint] as { lineitem: string }).lineitem
  const token = await accessToken(first.app, first.keys.grader as ToolKeys, 'grader')
  t.equal((await call(first.app, token, 'POST', `${lineItem}/scores`, score(ada.sub as string, { scoreGiven: 9 }), SCORE_TYPE)).statusCode, 200)
  await until('the first attempt', () => hook.got.length === 1)
  t.equal(hook.got[0]?.status, 500, 'the host fails the first attempt')
  await until('the failure to be recorded', async () => Object.values(await store.mapAll<{ attempts: number }>(WEBHOOK_QUEUE_MAP)).some((delivery) => delivery.attempts === 1))
  // The platform stops before the retry is due; another one (same store) picks the delivery up.
  await first.app.close()
  const second = await setup(t, env, store)
  await until('the retry', () => hook.got.length === 2)
  const delivered = hook.got[1] as { headers: Record<string, unknown>, body: string, status: number }
  t.equal(delivered.status, 200)
  t.equal(delivered.body, hook.got[0]?.body, 'the same body is sent again')
  t.ok(verifySignature(SECRET, delivered.body, String(delivered.headers[SIGNATURE_HEADER])), 'signed with the shared secret')
  t.notOk(verifySignature('another-secret-0123456789abcdef-xx', delivered.body, String(delivered.headers[SIGNATURE_HEADER])), 'not with another')
  t.notOk(verifySignature(SECRET, delivered.body.replace('"scoreGiven":9', '"scoreGiven":10'), String(delivered.headers[SIGNATURE_HEADER])), 'a changed body does not verify')
  const event = JSON.parse(delivered.body)
  t.match(event, { type: 'score', course: { id: 'ds101' }, lineItem: { id: lineItem, label: 'grader tool' }, tool: { clientId: 'grader' }, user: { sub: ada.sub }, score: { scoreGiven: 9, scoreMaximum: 10, gradingProgress: 'FullyGraded' } })
  t.equal(delivered.headers['ltilaunch-webhook-id'], event.id)
  await until('the queue to empty', async () => Object.keys(await store.mapAll(WEBHOOK_QUEUE_MAP)).length === 0)
  t.same(await store.mapAll(WEBHOOK_FAILED_MAP), {})
  await second.app.close()
})

t.test('a delivery the host keeps refusing is given up after the configured attempts and kept for an operator', async (t) => {
  const hook = await receiver(t, 100)
  const store = await redisStoreForTest(t, 'platform-webhook')
  if (store === undefined) return
  const { app, keys } = await setup(t, { PLATFORM_SCORE_WEBHOOK_URL: hook.url, PLATFORM_SCORE_WEBHOOK_SECRET: SECRET, PLATFORM_SCORE_WEBHOOK_BACKOFF: '1', PLATFORM_SCORE_WEBHOOK_ATTEMPTS: '2' }, store)
  const ada = await launch(app, 'ada', 'grader')
  const lineItem = (ada[LTI_CLAIM.agsEndpoint] as { lineitem: string }).lineitem
  const token = await accessToken(app, keys.grader as ToolKeys, 'grader')
  t.equal((await call(app, token, 'POST', `${lineItem}/scores`, score(ada.sub as string), SCORE_TYPE)).statusCode, 200)
  await until('the delivery to be given up', async () => Object.keys(await store.mapAll(WEBHOOK_FAILED_MAP)).length === 1)
  t.equal(hook.got.length, 2)
  t.same(await store.mapAll(WEBHOOK_QUEUE_MAP), {})
  t.match(Object.values(await store.mapAll(WEBHOOK_FAILED_MAP))[0], { attempts: 2, lastError: 'the host answered 500' })
  await app.close()
})
