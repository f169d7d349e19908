import http from 'node:http'
import { randomUUID } from 'node:crypto'
import { freePort } from './lib/processes.js'

/**
 * A broker that accepts every launch at once, for "launch validation
 * alone": tool-auth's callback still makes its real POST /v1/launches (with
 * the service token and idempotency key), but the reply costs next to
 * nothing, so the figure is tool-auth's own work.
 */
export async function startStubBroker (token: string): Promise<{ url: string, calls: () => number, close: () => Promise<void> }> {
  let calls = 0
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/launches' || req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ statusCode: 404, code: 'STUB_NOT_FOUND', error: 'Not Found', message: 'stub broker' }))
        return
      }
      calls++
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { username?: string, role?: string, image?: string }
      const id = randomUUID()
      res.writeHead(201, { 'content-type': 'application/json' })
      res.end(JSON.stringify({
        id,
        status: 'pending',
        image: body.image ?? 'quay.io/jupyter/minimal-notebook:latest',
        serverName: '',
        progressUrl: `${url}/launches/${id}`,
        statusUrl: `${url}/v1/launches/${id}`
      }))
    })
  })
  server.keepAliveTimeout = 60000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url,
    calls: () => calls,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
