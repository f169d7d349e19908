/**
 * A PostgreSQL database of its own for one test (ltijs's, through
 * ltijs-sequelize), on the machine's server, dropped at the end. Settings
 * from PGHOST, PGPORT, PGUSER, PGPASSWORD (default 127.0.0.1:5432, user
 * postgres, trust auth, as on the CI machine).
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Teardown } from './processes.js'

// pg ships no types and @types/pg is not installed: the calls used here, typed locally.
interface PgClient {
  connect: () => Promise<void>
  query: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }>
  end: () => Promise<void>
}
const pg = createRequire(import.meta.url)('pg') as { Client: new (settings: object) => PgClient }

export interface PgSettings {
  host: string
  port: number
  user: string
  password: string
}

export interface TestDatabase extends PgSettings {
  name: string
  drop: () => Promise<void>
}

export function pgSettings (): PgSettings {
  return {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    password: process.env.PGPASSWORD ?? ''
  }
}

async function withAdmin<T> (settings: PgSettings, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...settings, database: 'postgres', connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
  } catch (err) {
    throw new Error(`cannot reach PostgreSQL at ${settings.host}:${settings.port} as ${settings.user} (${(err as Error).message}); the end-to-end tests need it for ltijs (set PGHOST, PGPORT, PGUSER, PGPASSWORD)`)
  }
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Creates ltilaunch_e2e_<random> (or <prefix>_<random>) and drops it in t's teardown. */
export async function createDatabase (t: Teardown | undefined, prefix = 'ltilaunch_e2e'): Promise<TestDatabase> {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) throw new Error(`bad database prefix ${prefix}`)
  const name = `${prefix}_${randomBytes(5).toString('hex')}`
  const settings = pgSettings()
  await withAdmin(settings, async (client) => { await client.query(`CREATE DATABASE ${name}`) })
  let dropped = false
  const drop = async (): Promise<void> => {
    if (dropped) return
    dropped = true
    await withAdmin(settings, async (client) => { await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) })
  }
  t?.teardown(drop)
  return { name, ...settings, drop }
}

/** Whether a database exists (for tests of the cleanup). */
export async function databaseExists (name: string): Promise<boolean> {
  return await withAdmin(pgSettings(), async (client) => {
    const { rows } = await client.query(`SELECT 1 FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`)
    return rows.length > 0
  })
}
