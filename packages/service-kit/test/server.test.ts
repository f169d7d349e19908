import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const fixture = fileURLToPath(new URL('./fixtures/slow-service.ts', import.meta.url))

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

function run (env: Record<string, string>): { child: ChildProcess, output: () => string } {
  let output = ''
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout?.on('data', (chunk) => { output += String(chunk) })
  child.stderr?.on('data', (chunk) => { output += String(chunk) })
  return { child, output: () => output }
}

async function waitUntilUp (url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`${url} did not come up`)
}

t.test('a bad config stops the start with each variable named, exit code 1', async (t) => {
  const { child, output } = run({ PORT: 'abc' })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(output(), /slow: invalid configuration/)
  t.match(output(), /PORT must be integer/)
  t.match(output(), /GREETING is required/)
})

t.test('SIGTERM drains the request in flight, then exits 0', async (t) => {
  const port = await freePort()
  const { child, output } = run({ PORT: String(port), GREETING: 'hello', LOG_LEVEL: 'info' })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitUntilUp(`http://127.0.0.1:${port}/healthz`)

  const slow = fetch(`http://127.0.0.1:${port}/slow`)
  await sleep(150)
  child.kill('SIGTERM')
  const reply = await slow
  t.equal(reply.status, 200, 'the request in flight completes')
  t.same(await reply.json(), { greeting: 'hello' })
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
  t.match(output(), /draining requests in flight/)
  t.match(output(), /no REDIS_URL: keeping state in this process; run a single instance only/)
  t.equal(output().match(/run a single instance only/g)?.length, 1, 'it says so once')
})
