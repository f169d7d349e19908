// The production-like environment each image's start command gets in the
// boot check (deploy/checks/boot.mjs). Add a service's required settings
// here when it grows one; files (keys, registrations) go under `dir`.
//
// The values mirror deploy/compose.yaml: what the containers get there, the
// plain processes get here, on loopback and free ports.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const secret = () => randomBytes(24).toString('hex')

function pemKey (dir, name) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const file = join(dir, name)
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  return file
}

function secretFile (dir, name, value = secret()) {
  const file = join(dir, name)
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return file
}

/**
 * @param {string} service platform | tool-auth | spawner-broker
 * @param {{dir: string, ports: Record<string, number>}} context
 * @returns {Record<string, string>}
 */
export function bootEnv (service, { dir, ports }) {
  const url = (name) => `http://127.0.0.1:${ports[name]}`
  const brokerToken = secret()
  switch (service) {
    case 'platform': {
      const tools = join(dir, 'platform-tools.json')
      writeFileSync(tools, JSON.stringify([{
        client_id: 'ltilaunch-jupyterhub',
        name: 'JupyterHub',
        deployment_ids: ['1'],
        initiate_login_uri: `${url('tool-auth')}/lti13/oauth_login`,
        redirect_uris: [`${url('tool-auth')}/lti13/oauth_callback`],
        target_link_uri: `${url('tool-auth')}/lti13/launch`,
        jwks_uri: `${url('tool-auth')}/lti13/jwks`
      }], null, 2))
      return {
        PUBLIC_URL: url('platform'),
        PLATFORM_KEY_DIR: join(dir, 'platform-state'),
        PLATFORM_SIGNING_KEY_FILE: pemKey(dir, 'platform-signing.pem'),
        PLATFORM_NEXT_KEY_FILE: pemKey(dir, 'platform-next.pem'),
        PLATFORM_SESSION_SECRET_FILE: secretFile(dir, 'platform-session-secret'),
        PLATFORM_SUBJECT_SECRET_FILE: secretFile(dir, 'platform-subject-secret'),
        PLATFORM_TOOLS_FILE: tools
      }
    }
    case 'tool-auth':
      return {
        PUBLIC_URL: url('tool-auth'),
        issuer: url('platform'),
        client_id: 'ltilaunch-jupyterhub',
        deployment_ids: '1',
        authorize_url: `${url('platform')}/lti/authorize`,
        jwks_endpoint: `${url('platform')}/.well-known/jwks.json`,
        TOOL_KEY_FILE: pemKey(dir, 'tool-auth-key.pem'),
        TOOL_KEY_DIR: join(dir, 'tool-auth-state'),
        BROKER_URL: url('spawner-broker'),
        BROKER_SERVICE_TOKEN_FILE: secretFile(dir, 'tool-auth-broker-token', brokerToken),
        HUB_CLIENT_ID: 'jupyterhub',
        HUB_CLIENT_SECRET_FILE: secretFile(dir, 'tool-auth-hub-secret'),
        HUB_REDIRECT_URI: 'http://127.0.0.1:8000/hub/oauth_callback'
      }
    case 'spawner-broker':
      return {
        PUBLIC_URL: url('spawner-broker'),
        BROKER_SERVICE_TOKEN_FILE: secretFile(dir, 'broker-token', brokerToken),
        ALLOWED_IMAGES: [
          'minimal=quay.io/jupyter/minimal-notebook:latest',
          'scipy=quay.io/jupyter/scipy-notebook:latest',
          'pytorch=quay.io/jupyter/pytorch-notebook:latest'
        ].join(','),
        DEFAULT_IMAGE: 'quay.io/jupyter/minimal-notebook:latest',
        // No hub here: the dry-run driver, so the worker starts and idles.
        SPAWN_DRIVER: 'dry-run'
      }
    default:
      throw new Error(`unknown service ${service}`)
  }
}
