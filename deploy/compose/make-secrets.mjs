// Makes the laptop stack's keys and shared secrets once, into the volume that
// deploy/compose.yaml mounts at /run/ltilaunch in every service. Files that
// exist are kept, so restarts keep their keys (and the hub its tokens).
// Production deployments provide these from their own secret store instead;
// see docs/operator-guide.md.
import { generateKeyPairSync, randomBytes, scryptSync } from 'node:crypto'
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.argv[2] ?? '/run/ltilaunch'
const owner = 1000 // the services' user in the images
mkdirSync(dir, { recursive: true })

function keep (name, make) {
  const path = join(dir, name)
  if (existsSync(path)) return console.log(`kept      ${path}`)
  writeFileSync(path, make(), { mode: 0o400 })
  try { chownSync(path, owner, owner) } catch {}
  console.log(`generated ${path}`)
}

const token = () => `${randomBytes(32).toString('hex')}\n`
const rsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })

// scrypt:<N>:<r>:<p>:<salt>:<hash>, the platform's password hash format.
function hash (password) {
  const salt = randomBytes(16)
  const key = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 })
  return `scrypt:16384:8:1:${salt.toString('base64')}:${key.toString('base64')}`
}

keep('platform-signing-key.pem', rsaKey)
keep('platform-session-secret', token)
keep('platform-subject-secret', token)
keep('tool-auth-key.pem', rsaKey)
keep('broker-service-token', token)
keep('hub-client-secret', token)
keep('hub-api-token', token)
keep('hub-crypt-key', token) // 32 random bytes, hex: JUPYTERHUB_CRYPT_KEY

// The demo sign-in's users. Their passwords are the usernames: laptop only.
keep('platform-users.json', () => JSON.stringify({
  courses: [
    { id: 'demo-101', label: 'DEMO 101', title: 'Demo course' }
  ],
  users: [
    { username: 'instructor', name: 'Ina Instructor', email: 'instructor@example.org', password: hash('instructor'), courses: { 'demo-101': ['Instructor'] } },
    { username: 'learner', name: 'Lee Learner', email: 'learner@example.org', password: hash('learner'), courses: { 'demo-101': ['Learner'] } }
  ]
}, null, 2))
