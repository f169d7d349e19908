/**
 * Code run inside a user's running single-user server, as a notebook cell
 * runs it: peers/run_in_kernel.py (the virtualenv's Python, tornado's
 * websocket client) starts a kernel through the server's REST API, executes
 * the code over the kernel's websocket and shuts the kernel down. The kernel
 * is the server's child, with the server's environment (its
 * JUPYTERHUB_API_TOKEN), so what the code does is what the user's notebook
 * would do.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { testDir, venvBin } from '../setup/peers.js'
import { childEnv } from './processes.js'

export interface CellResult {
  status: 'ok' | 'error' | 'aborted' | 'timeout' | 'closed' | 'http-error' | null
  stdout: string
  stderr: string
  error: { ename: string, evalue: string, traceback?: string[] } | null
}

/**
 * Runs `code` in a new kernel of the server at serverUrl (`<hub>/user/<name>/<server>/`),
 * reached with `token` (one that may access that server, e.g. the hub service's).
 */
export async function runInServer (options: { serverUrl: string, token: string, code: string, timeoutMs?: number }): Promise<CellResult> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const input = JSON.stringify({ server_url: options.serverUrl, token: options.token, code: options.code, timeout: timeoutMs / 1000 })
  return await new Promise((resolve, reject) => {
    const child = spawn(venvBin('python'), [path.join(testDir, 'peers', 'run_in_kernel.py')], {
      env: childEnv(process.env, { PYTHONUNBUFFERED: '1' }),
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 15_000)
    child.once('error', (e) => { clearTimeout(timer); reject(e) })
    child.once('close', (code) => {
      clearTimeout(timer)
      const text = Buffer.concat(out).toString('utf8').trim()
      try {
        resolve(JSON.parse(text.split('\n').at(-1) ?? '') as CellResult)
      } catch {
        reject(new Error(`run_in_kernel.py exited ${code}: ${text}\n${Buffer.concat(err).toString('utf8')}`))
      }
    })
    child.stdin.end(input)
  })
}
