import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { freePort, freePorts, runningProcesses, startProcess, stopAll } from './processes.js'

/** A child that serves HTTP after a delay, starts a grandchild in a session of its own, and ignores SIGTERM when told to. */
const SERVER = `
const http = require('node:http')
const { spawn } = require('node:child_process')
const port = Number(process.env.PORT)
if (process.env.IGNORE_TERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'))
if (process.env.GRANDCHILD) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' })
  console.log('grandchild ' + child.pid)
}
console.log('starting on ' + port)
console.error('a line on stderr')
setTimeout(() => {
  http.createServer((req, res) => res.end('ok')).listen(port, '127.0.0.1', () => console.log('listening'))
}, Number(process.env.DELAY ?? 0))
`

/** Running and not a zombie waiting for its reaper. */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

t.test('freePort gives distinct usable ports', async (t) => {
  const ports = await freePorts(5)
  t.equal(new Set(ports).size, 5)
  t.ok(ports.every((port) => port > 0 && port < 65536))
  t.ok(await freePort() > 0)
})

t.test('a process is started, waited for, logged and stopped with its descendants', async (t) => {
  const port = await freePort()
  const proc = await startProcess(t, {
    name: 'harness-demo',
    cmd: process.execPath,
    args: ['-e', SERVER],
    env: { ...process.env, PORT: String(port), DELAY: '300', GRANDCHILD: '1' },
    readyUrl: `http://127.0.0.1:${port}/`,
    timeoutMs: 10_000
  })
  t.ok(proc.startMs >= 300, `ready after the delay (${proc.startMs} ms)`)
  t.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'ok')
  const grandchild = Number(/grandchild (\d+)/.exec(readFileSync(proc.logFile, 'utf8'))?.[1])
  t.ok(alive(grandchild), 'the grandchild runs in a session of its own')
  await proc.stop()
  t.notOk(proc.running())
  t.notOk(alive(grandchild), 'and is ended with its parent')
  const log = readFileSync(proc.logFile, 'utf8')
  t.match(log, /starting on \d+/)
  t.match(log, /a line on stderr/)
  t.match(log, /exited code=/)
  t.notOk(runningProcesses().includes(proc))
})

t.test('a process that ignores SIGTERM is killed after the grace period', async (t) => {
  const port = await freePort()
  const proc = await startProcess(t, {
    name: 'harness-stubborn',
    cmd: process.execPath,
    args: ['-e', SERVER],
    env: { ...process.env, PORT: String(port), IGNORE_TERM: '1' },
    readyUrl: `http://127.0.0.1:${port}/`,
    graceMs: 300
  })
  const started = Date.now()
  await proc.stop()
  t.ok(Date.now() - started >= 300)
  t.equal((await proc.exited).signal, 'SIGKILL')
})

t.test('a process that never gets ready fails with the end of its log', async (t) => {
  const port = await freePort()
  const failure = startProcess(t, {
    name: 'harness-slow',
    cmd: process.execPath,
    args: ['-e', SERVER],
    env: { ...process.env, PORT: String(port), DELAY: '60000' },
    readyUrl: `http://127.0.0.1:${port}/`,
    timeoutMs: 800
  })
  await t.rejects(failure, /harness-slow was not ready within 800 ms[\s\S]*last lines of[\s\S]*starting on/)
  t.equal(runningProcesses().filter((proc) => proc.name === 'harness-slow').length, 0, 'and is stopped')
})

t.test('a process that exits while starting fails at once, saying so', async (t) => {
  const started = Date.now()
  await t.rejects(startProcess(t, {
    name: 'harness-crash',
    cmd: process.execPath,
    args: ['-e', 'console.error("bad config: PORT"); process.exit(3)'],
    readyUrl: 'http://127.0.0.1:1/',
    timeoutMs: 20_000
  }), /harness-crash exited while starting \(code 3[\s\S]*bad config: PORT/)
  t.ok(Date.now() - started < 5000)
  await t.rejects(startProcess(t, { name: 'harness-missing', cmd: '/nonexistent/binary' }), /cannot start harness-missing/)
})

t.test('stopAll stops what is left; log names do not collide', async (t) => {
  const [a, b] = await freePorts(2)
  const first = await startProcess(undefined, { name: 'harness-twice', cmd: process.execPath, args: ['-e', SERVER], env: { ...process.env, PORT: String(a) }, readyUrl: `http://127.0.0.1:${a}/` })
  const second = await startProcess(undefined, { name: 'harness-twice', cmd: process.execPath, args: ['-e', SERVER], env: { ...process.env, PORT: String(b) }, readyUrl: `http://127.0.0.1:${b}/` })
  t.not(first.logFile, second.logFile)
  t.match(second.logFile, /harness-twice-2\.log$/)
  await stopAll()
  t.notOk(first.running())
  t.notOk(second.running())
  t.ok(existsSync(first.logFile) && existsSync(second.logFile), 'the logs stay')
})
