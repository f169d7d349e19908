import { jwtVerify, type JWTPayload } from 'jose'
import { launchPayload, makeSigningKey, signPayload } from './tokens.js'

/**
 * The limit: how many RS256 signatures and verifications one core does, in
 * this process, with jose and a 2048-bit key, on a realistic id_token. The
 * platform signs once and tool-auth verifies once per launch, so these
 * bound the whole flow.
 *
 * One operation is in flight at a time. jose runs on WebCrypto, which may
 * hand the RSA work to a libuv thread, so the rate is given both per wall
 * second and per CPU second of this process (user + system, all threads):
 * the per-CPU-second figure is the one-core rate, and it is the one used as
 * the limit, because it does not depend on what else the machine is doing.
 */

export interface RateResult {
  ops: number
  wallMs: number
  cpuMs: number
  perWallSecond: number
  perCpuSecond: number
}

export interface LimitResult {
  tokenBytes: number
  sign: RateResult
  verify: RateResult
}

async function measure (op: () => Promise<unknown>, options: { maxOps: number, maxMs: number }): Promise<RateResult> {
  // Warm up: JIT, key import caches.
  for (let i = 0; i < 50; i++) await op()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let ops = 0
  while (ops < options.maxOps && performance.now() - t0 < options.maxMs) {
    await op()
    ops++
  }
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const cpuMs = (cpu.user + cpu.system) / 1000
  return { ops, wallMs, cpuMs, perWallSecond: (ops * 1000) / wallMs, perCpuSecond: (ops * 1000) / cpuMs }
}

export async function measureLimit (options: { quick: boolean }): Promise<LimitResult> {
  const key = await makeSigningKey()
  const issuer = 'https://platform.example.edu'
  const payload: JWTPayload = launchPayload({
    issuer,
    clientId: 'ltilaunch-jupyterhub',
    deploymentId: '1',
    nonce: 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
    targetLinkUri: 'http://localhost:3001/lti13/launch',
    user: 1
  })
  const budget = options.quick ? { maxOps: 2000, maxMs: 1500 } : { maxOps: 20000, maxMs: 5000 }
  const token = await signPayload(key, payload)
  const sign = await measure(async () => await signPayload(key, payload), budget)
  const verify = await measure(async () => await jwtVerify(token, key.publicKey, {
    issuer,
    audience: 'ltilaunch-jupyterhub',
    algorithms: ['RS256']
  }), budget)
  return { tokenBytes: token.length, sign, verify }
}
