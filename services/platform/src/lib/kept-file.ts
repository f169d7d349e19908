/**
 * Development conveniences: with no key or secret configured, one is made
 * once and kept in a directory, so restarts (and tools that cached the JWKS)
 * keep working. In production (NODE_ENV=production) nothing is generated:
 * replicas must share one configured key.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'

export interface KeptFile {
  value: string
  path: string
  generated: boolean
}

export async function keptFile (dir: string, name: string, variable: string, make: () => string): Promise<KeptFile> {
  const path = join(isAbsolute(dir) ? dir : resolve(process.cwd(), dir), name)
  try {
    return { value: (await readFile(path, 'utf8')).trim(), path, generated: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (process.env.NODE_ENV === 'production') {
    throw new Error(`${variable} is not set: in production every replica must share one configured value (set ${variable} or ${variable}_FILE)`)
  }
  const value = make()
  await mkdir(resolve(path, '..'), { recursive: true, mode: 0o700 })
  // wx: two processes starting together do not overwrite each other's file.
  try {
    await writeFile(path, value, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { value: (await readFile(path, 'utf8')).trim(), path, generated: false }
    throw err
  }
  return { value, path, generated: true }
}
