import { BaseConfigProperties, loadConfig } from '@ltilaunch/service-kit'
import { Type, type Static } from 'typebox'

/** The environment this service reads; see the README's configuration reference. */
export const ToolAuthConfigSchema = Type.Object({
  ...BaseConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3001, description: 'port to listen on' })
})

export type ToolAuthConfig = Static<typeof ToolAuthConfigSchema>

export function readConfig (env: NodeJS.ProcessEnv = process.env): ToolAuthConfig {
  return loadConfig(ToolAuthConfigSchema, env)
}
