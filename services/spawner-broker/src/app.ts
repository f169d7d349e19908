import formbody from '@fastify/formbody'
import { serviceKit, type Store } from '@ltilaunch/service-kit'
import type { FastifyPluginAsync } from 'fastify'
import type { BrokerConfig } from './config.js'
import imagePolicy from './plugins/image-policy.js'
import launches from './plugins/launches.js'
import rosters from './plugins/rosters.js'
import metrics from './plugins/metrics.js'
import serviceAuth from './plugins/service-auth.js'
import spawnDriver from './plugins/spawn-driver.js'
import workQueue from './plugins/work-queue.js'
import worker from './plugins/worker.js'
import launchPages from './routes/launches/page.js'
import imagesApi from './routes/v1/images.js'
import launchesApi from './routes/v1/launches.js'
import rostersApi from './routes/v1/rosters.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: BrokerConfig
  }
}

export interface AppOptions {
  config: BrokerConfig
  /** A ready store (tests); otherwise the kit builds one from the config. */
  store?: Store
}

/** The spawner-broker service as a plugin: the kit first, then plugins/, then routes/. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  fastify.decorate('config', options.config)
  await fastify.register(serviceKit, {
    service: 'spawner-broker',
    errorPrefix: 'BROKER',
    config: options.config,
    ...(options.store ? { store: options.store } : {})
  })
  await fastify.register(formbody)

  await fastify.register(metrics)
  await fastify.register(imagePolicy)
  await fastify.register(serviceAuth)
  await fastify.register(launches)
  await fastify.register(workQueue)
  await fastify.register(spawnDriver)
  await fastify.register(worker)
  await fastify.register(rosters)

  await fastify.register(launchesApi)
  await fastify.register(imagesApi)
  await fastify.register(rostersApi)
  await fastify.register(launchPages)
}

export default app
