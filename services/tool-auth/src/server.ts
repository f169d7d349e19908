import { startService } from '@ltilaunch/service-kit'
import app from './app.js'
import { readConfig } from './config.js'

await startService({ service: 'tool-auth', app, loadConfig: readConfig })
