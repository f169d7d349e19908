/**
 * Prints the scrypt hash of a password, for the `password` field of a demo
 * user in PLATFORM_USERS_FILE. Reads the password from stdin (so that it
 * stays out of the shell history), or from the first argument.
 *
 *   pnpm --filter @ltilaunch/platform hash-password            # then type it, Enter
 *   printf %s 'secret' | pnpm --filter @ltilaunch/platform hash-password
 */
import { createInterface } from 'node:readline/promises'
import { hashPassword } from '../lib/password.js'

async function readPassword (): Promise<string> {
  const argument = process.argv[2]
  if (argument !== undefined) return argument
  if (process.stdin.isTTY) process.stderr.write('password: ')
  const lines = createInterface({ input: process.stdin, terminal: false })
  const first = await new Promise<string>((resolve) => {
    lines.once('line', resolve)
    lines.once('close', () => resolve(''))
  })
  lines.close()
  return first
}

const password = await readPassword()
if (password === '') {
  process.stderr.write('hash-password: give a non-empty password on stdin or as the first argument\n')
  process.exit(1)
}
process.stdout.write(`${await hashPassword(password)}\n`)
