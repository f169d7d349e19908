import { BaseConfigProperties, loadConfig } from '@ltilaunch/service-kit'
import { Type, type Static } from 'typebox'

/** The environment this service reads; see the README's configuration reference. */
export const BrokerConfigSchema = Type.Object({
  ...BaseConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3002, description: 'port to listen on' })
})

export type BrokerConfig = Static<typeof BrokerConfigSchema>

export function readConfig (env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  return loadConfig(BrokerConfigSchema, env)
}
