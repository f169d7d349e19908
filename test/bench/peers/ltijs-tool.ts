/**
 * An ltijs tool for the validation bench, run as its own process:
 * `node --import tsx bench/peers/ltijs-tool.ts` with the settings in the
 * environment (below). Its database is PostgreSQL through ltijs-sequelize,
 * as ltijs's documentation deploys it. It registers one platform (the
 * bench's issuer and JWKS) and answers a launch with a tiny page.
 *
 * tokenMaxAge is set to the same 600 s that tool-auth's max_age has, so
 * both accept the same pre-made tokens; ltijs's default (10 s) would refuse
 * a token signed before the timed loop started.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
// ltijs is CommonJS with a default-exported singleton.
const { Provider: lti } = require('ltijs') as { Provider: LtiProvider }
const Database = require('ltijs-sequelize') as new (db: string, user: string, pass: string, options: object) => object

interface LtiProvider {
  setup: (key: string, db: { plugin: object }, options: object) => LtiProvider
  onConnect: (handler: (token: unknown, req: unknown, res: { send: (body: string) => void }) => void) => void
  deploy: (options: object) => Promise<unknown>
  registerPlatform: (platform: object) => Promise<unknown>
  app: { listen: (port: number, host: string, done: () => void) => void }
  close: (options?: object) => Promise<unknown>
}

function need (name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`ltijs-tool: ${name} is required`)
  return value
}

const port = Number(need('LTIJS_PORT'))
const db = new Database(need('LTIJS_PG_DATABASE'), process.env.LTIJS_PG_USER ?? 'postgres', process.env.LTIJS_PG_PASSWORD ?? '', {
  host: process.env.LTIJS_PG_HOST ?? '127.0.0.1',
  port: Number(process.env.LTIJS_PG_PORT ?? 5432),
  dialect: 'postgres',
  logging: false
})

lti.setup(need('LTIJS_KEY'), { plugin: db }, {
  appRoute: '/',
  loginRoute: '/login',
  cookies: { secure: false, sameSite: '' },
  devMode: false,
  tokenMaxAge: 600
})

lti.onConnect((_token, _req, res) => { res.send('ltijs launched') })

await lti.deploy({ serverless: true, silent: true })
await lti.registerPlatform({
  url: need('LTIJS_ISSUER'),
  name: 'bench platform',
  clientId: need('LTIJS_CLIENT_ID'),
  authenticationEndpoint: need('LTIJS_AUTHORIZE_URL'),
  accesstokenEndpoint: `${need('LTIJS_ISSUER')}/token`,
  authConfig: { method: 'JWK_SET', key: need('LTIJS_JWKS_URL') }
})
lti.app.listen(port, '127.0.0.1', () => { process.stdout.write(`ltijs tool listening on 127.0.0.1:${port}\n`) })

const stop = (): void => {
  lti.close({ silent: true }).finally(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
