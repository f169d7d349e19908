import { createServer } from '@ltilaunch/service-kit'
import { memoryStoreForTest, redisStoreForTest } from '@ltilaunch/service-kit/testing'
import fp from 'fastify-plugin'
import type { Test } from 'tap'
import app from '../src/app.js'
import { readConfig } from '../src/config.js'

/** Settings every test starts from; a test overrides what it is about. */
export const TEST_ENV: Record<string, string> = {
  PORT: '0',
  LOG_LEVEL: 'silent'
}

export interface BuildOptions {
  env?: Record<string, string>
  /** 'redis' (the default: a real Redis under a fresh key prefix) or 'memory'. */
  store?: 'redis' | 'memory'
}

/** The app with test settings, ready for inject(); closed, and its Redis keys deleted, after the test. */
export async function build (t: Test, options: BuildOptions = {}) {
  const config = readConfig({ ...TEST_ENV, ...options.env })
  const store = options.store === 'memory' ? memoryStoreForTest(t) : await redisStoreForTest(t, 'platform')
  if (store === undefined) throw new Error('these tests need Redis')
  const server = createServer({ service: 'platform', config, logger: false })
  await server.register(fp(app), { config, store })
  await server.ready()
  t.teardown(async () => await server.close())
  return server
}
