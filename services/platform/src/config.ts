import { BaseConfigProperties, loadConfig } from '@ltilaunch/service-kit'
import { Type, type Static } from 'typebox'

/** The environment this service reads; see the README's configuration reference. */
export const PlatformConfigSchema = Type.Object({
  ...BaseConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'port to listen on' })
})

export type PlatformConfig = Static<typeof PlatformConfigSchema>

export function readConfig (env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  return loadConfig(PlatformConfigSchema, env)
}
