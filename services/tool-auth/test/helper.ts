import { createServer, type Store } from '@ltilaunch/service-kit'
import { memoryStoreForTest, redisStoreForTest } from '@ltilaunch/service-kit/testing'
import fp from 'fastify-plugin'
import { exportPKCS8, generateKeyPair } from 'jose'
import type { Test } from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'

// One tool key per test process: generating RSA keys is slow.
const toolKey = await exportPKCS8((await generateKeyPair('RS256', { extractable: true })).privateKey)

/** Settings every test starts from; a test overrides what it is about. */
export const TEST_ENV: Record<string, string> = {
  PORT: '0',
  LOG_LEVEL: 'silent',
  PUBLIC_URL: 'https://tool.test',
  // A placeholder platform; tests that launch register a live test platform instead.
  issuer: 'https://platform.invalid',
  client_id: 'placeholder-client',
  authorize_url: 'https://platform.invalid/authorize',
  jwks_endpoint: 'http://127.0.0.1:9/jwks',
  HUB_CLIENT_ID: 'jupyterhub',
  HUB_CLIENT_SECRET: 'test-hub-secret-0123456789abcdef',
  HUB_REDIRECT_URI: 'https://hub.test/hub/oauth_callback',
  TOOL_KEY: toolKey,
  RATE_LIMIT_MAX: '0'
}

export interface BuildOptions {
  env?: Record<string, string | undefined>
  /** 'redis' (the default: a real Redis under a fresh key prefix), 'memory', or a store to share (a restart, replicas). */
  store?: 'redis' | 'memory' | Store
  /** Listen on 127.0.0.1 (for tests that drive the app with real HTTP and cookies). */
  listen?: boolean
}

/** The app with test settings, ready for inject(); closed, and its Redis keys deleted, after the test. */
export async function build (t: Test, options: BuildOptions = {}) {
  const env: Record<string, string> = { ...TEST_ENV }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  const config = readConfig(env)
  const store = typeof options.store === 'object'
    ? options.store
    : options.store === 'memory' ? memoryStoreForTest(t) : await redisStoreForTest(t, 'tool-auth')
  if (store === undefined) throw new Error('these tests need Redis')
  const server = createServer({ service: 'tool-auth', config, logger: false })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => await server.close())
  if (options.listen === true) await server.listen({ host: '127.0.0.1', port: 0 })
  return server
}

export type App = Awaited<ReturnType<typeof build>>
