import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { freePort, startProcess, waitForHttp, type BenchProcess } from '../lib/processes.js'

/**
 * A real JupyterHub whose authenticator is jupyterhub-ltiauthenticator's
 * LTI13Authenticator, configured with the bench platform, run from the
 * virtualenv that the end-to-end setup creates. The bench talks to the hub
 * process directly (hub_port), not through the proxy, as it talks to
 * tool-auth directly: both figures are the authenticator and its server.
 */

export interface HubPeer {
  url: string
  loginUrl: string
  callbackUrl: string
  proc: BenchProcess
  proxy?: BenchProcess
}

export function findVenv (testDir: string): string | undefined {
  const candidates = [
    process.env.LTILAUNCH_PEERS_VENV,
    path.join(testDir, '.peers', 'venv'),
    path.join(testDir, '.peers', 'python')
  ].filter((dir): dir is string => Boolean(dir))
  return candidates.find((dir) => existsSync(path.join(dir, 'bin', 'jupyterhub')))
}

export async function startLtiAuthenticatorHub (options: {
  venv: string
  testDir: string
  workDir: string
  logDir: string
  platform: { issuer: string, clientId: string, authorizeUrl: string, jwksUrl: string }
}): Promise<HubPeer> {
  mkdirSync(options.workDir, { recursive: true })
  const [publicPort, hubPort, apiPort] = [await freePort(), await freePort(), await freePort()]
  const chp = path.join(options.testDir, 'node_modules', '.bin', 'configurable-http-proxy')
  const config = `# written by test/bench for one bench run
c = get_config()  # noqa
c.JupyterHub.bind_url = 'http://127.0.0.1:${publicPort}'
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${hubPort}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${apiPort}'
c.ConfigurableHTTPProxy.command = [${JSON.stringify(chp)}]
c.ConfigurableHTTPProxy.pid_file = ${JSON.stringify(path.join(options.workDir, 'proxy.pid'))}
c.JupyterHub.db_url = 'sqlite:///${path.join(options.workDir, 'jupyterhub.sqlite')}'
c.JupyterHub.cookie_secret_file = ${JSON.stringify(path.join(options.workDir, 'cookie_secret'))}
c.JupyterHub.log_level = 'WARN'
c.JupyterHub.authenticator_class = 'ltiauthenticator.lti13.auth.LTI13Authenticator'
c.LTI13Authenticator.issuer = ${JSON.stringify(options.platform.issuer)}
c.LTI13Authenticator.client_id = [${JSON.stringify(options.platform.clientId)}]
c.LTI13Authenticator.authorize_url = ${JSON.stringify(options.platform.authorizeUrl)}
c.LTI13Authenticator.jwks_endpoint = ${JSON.stringify(options.platform.jwksUrl)}
c.LTI13Authenticator.username_key = 'email'
c.LTI13Authenticator.uri_scheme = 'http'
c.Authenticator.allow_all = True
`
  const configFile = path.join(options.workDir, 'jupyterhub_config.py')
  writeFileSync(configFile, config)
  const proc = startProcess({
    name: 'jupyterhub-ltiauthenticator',
    command: path.join(options.venv, 'bin', 'jupyterhub'),
    args: ['-f', configFile],
    cwd: options.workDir,
    env: { ...process.env, PATH: `${path.join(options.venv, 'bin')}:${path.join(options.testDir, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` },
    logDir: options.logDir
  })
  const url = `http://127.0.0.1:${hubPort}`
  await waitForHttp(`${url}/hub/health`, proc, 60000)
  return { url, loginUrl: `${url}/hub/lti13/oauth_login`, callbackUrl: `${url}/hub/lti13/oauth_callback`, proc }
}
