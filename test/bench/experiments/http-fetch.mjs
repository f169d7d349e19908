// Bench-only experiment (--experiment http-fetch): loaded into a service
// with `node --import`, it answers the service's fetch() calls to its
// BROKER_URL with node:http on a keep-alive Agent instead of undici's fetch,
// to measure what calling the broker that way would change (CPU per
// callback, heap growth). Other URLs go to the real fetch. It changes no
// service code.
import http from 'node:http'

const broker = process.env.BROKER_URL?.replace(/\/+$/, '')
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
const realFetch = globalThis.fetch

globalThis.fetch = async function benchFetch (input, init = {}) {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  if (!broker || !url.startsWith(`${broker}/`)) return await realFetch(input, init)
  const target = new URL(url)
  return await new Promise((resolve, reject) => {
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      method: init.method ?? 'GET',
      headers: init.headers,
      agent
    }, (res) => {
      const chunks = []
      res.on('data', (chunk) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        init.signal?.removeEventListener('abort', onAbort)
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({
          status: res.statusCode,
          ok: res.statusCode >= 200 && res.statusCode < 300,
          headers: new Headers(Object.entries(res.headers).flatMap(([k, v]) => Array.isArray(v) ? v.map((x) => [k, x]) : v === undefined ? [] : [[k, v]])),
          text: async () => text,
          json: async () => JSON.parse(text)
        })
      })
    })
    const onAbort = () => req.destroy(init.signal.reason ?? new Error('aborted'))
    init.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err) => {
      init.signal?.removeEventListener('abort', onAbort)
      reject(err)
    })
    if (init.body !== undefined) req.write(init.body)
    req.end()
  })
}
