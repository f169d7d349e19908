import { startJupyterHub, type Hub } from '../../harness/jupyterhub.js'
import type { Teardown } from '../../harness/processes.js'

/**
 * A real JupyterHub (the end-to-end harness's, from the pinned virtualenv
 * that test/setup/peers.ts installs) whose authenticator is
 * jupyterhub-ltiauthenticator's LTI13Authenticator, configured with the
 * bench platform. The bench posts to the hub process directly (hubUrl),
 * not through the proxy, as it posts to tool-auth directly: both figures
 * are the authenticator and its server.
 */
export interface LtiAuthenticatorHub {
  hub: Hub
  loginUrl: string
  callbackUrl: string
  targetLinkUri: string
}

export async function startLtiAuthenticatorHub (t: Teardown, platform: { issuer: string, clientId: string, authorizeUrl: string, jwksUrl: string }): Promise<LtiAuthenticatorHub> {
  const py = (value: string): string => JSON.stringify(value)
  const hub = await startJupyterHub(t, {
    name: 'bench-ltiauthenticator-hub',
    logLevel: 'WARN',
    config: `c.JupyterHub.authenticator_class = 'ltiauthenticator.lti13.auth.LTI13Authenticator'
c.LTI13Authenticator.issuer = ${py(platform.issuer)}
c.LTI13Authenticator.client_id = [${py(platform.clientId)}]
c.LTI13Authenticator.authorize_url = ${py(platform.authorizeUrl)}
c.LTI13Authenticator.jwks_endpoint = ${py(platform.jwksUrl)}
c.LTI13Authenticator.username_key = 'email'
c.LTI13Authenticator.uri_scheme = 'http'
c.Authenticator.allow_all = True
`
  })
  return {
    hub,
    loginUrl: `${hub.hubUrl}/hub/lti13/oauth_login`,
    callbackUrl: `${hub.hubUrl}/hub/lti13/oauth_callback`,
    targetLinkUri: `${hub.hubUrl}/hub/`
  }
}
