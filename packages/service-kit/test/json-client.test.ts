import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { JsonClient, JsonClientError } from '../src/json-client.js'

/** A peer on a free port; `handler` answers each request. */
async function peer (t: Test, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function readBody (request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    request.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
    request.on('end', () => resolve(text))
  })
}

t.test('sends JSON with the client and request headers, and parses the JSON reply', async (t) => {
  const seen: Array<{ method?: string, url?: string, headers: http.IncomingHttpHeaders, body: string }> = []
  const base = await peer(t, (request, response) => {
    readBody(request).then((body) => {
      seen.push({ method: request.method, url: request.url, headers: request.headers, body })
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'L1', echo: body === '' ? null : JSON.parse(body) }))
    }, (err: Error) => response.destroy(err))
  })
  const client = new JsonClient(`${base}/api`, { timeoutMs: 2000, headers: { authorization: 'Bearer s3cret' } })
  t.teardown(() => client.close())
  const reply = await client.request('POST', 'v1/launches', { body: { user: 'ada', n: 1 }, headers: { 'idempotency-key': 'k1' } })
  t.equal(reply.status, 201)
  t.same(reply.body, { id: 'L1', echo: { user: 'ada', n: 1 } })
  t.equal(seen[0]?.method, 'POST')
  t.equal(seen[0]?.url, '/api/v1/launches', 'the path is relative to the base URL, prefix kept')
  t.equal(seen[0]?.headers.authorization, 'Bearer s3cret')
  t.equal(seen[0]?.headers['idempotency-key'], 'k1')
  t.equal(seen[0]?.headers['content-type'], 'application/json')
  t.equal(seen[0]?.headers.accept, 'application/json')

  await client.request('GET', '/v1/launches/L1')
  t.equal(seen[1]?.url, '/api/v1/launches/L1', 'a leading slash does not drop the prefix')
  t.equal(seen[1]?.headers['content-type'], undefined, 'no body, no content type')
})

t.test('keeps the connection open between requests', async (t) => {
  const ports = new Set<number>()
  const base = await peer(t, (request, response) => {
    ports.add(request.socket.remotePort as number)
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
  const client = new JsonClient(base, { timeoutMs: 2000 })
  t.teardown(() => client.close())
  for (let i = 0; i < 5; i++) await client.request('GET', 'ping')
  t.equal(ports.size, 1, 'five requests, one socket')
})

t.test('a reply that is not JSON has an undefined body and keeps its status', async (t) => {
  const base = await peer(t, (_request, response) => { response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>') })
  const client = new JsonClient(base, { timeoutMs: 2000 })
  t.teardown(() => client.close())
  const reply = await client.request('GET', 'x')
  t.equal(reply.status, 502)
  t.equal(reply.body, undefined)
})

t.test('a peer that does not answer in time fails with JsonClientError', async (t) => {
  const base = await peer(t, () => { /* never answers */ })
  const client = new JsonClient(base, { timeoutMs: 200 })
  t.teardown(() => client.close())
  const started = Date.now()
  await t.rejects(client.request('GET', 'slow'), JsonClientError)
  t.ok(Date.now() - started < 2000, 'gives up near the timeout')
})

t.test('a peer that is not there fails with JsonClientError', async (t) => {
  // Port 1 (tcpmux) has no listener on a test machine: the connection is refused.
  const client = new JsonClient('http://127.0.0.1:1', { timeoutMs: 2000 })
  t.teardown(() => client.close())
  await t.rejects(client.request('GET', 'x'), { name: 'JsonClientError', message: /ECONNREFUSED/ })
})

t.test('a reply longer than the limit fails instead of filling memory', async (t) => {
  const base = await peer(t, (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ data: 'x'.repeat(64 * 1024) }))
  })
  const client = new JsonClient(base, { timeoutMs: 2000, maxBodyBytes: 1024 })
  t.teardown(() => client.close())
  await t.rejects(client.request('GET', 'big'), { name: 'JsonClientError', message: /longer than 1024 bytes/ })
})
