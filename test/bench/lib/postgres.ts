import { createRequire } from 'node:module'

// pg ships no types and @types/pg is not installed: the few calls used here, typed locally.
interface PgClient { connect: () => Promise<void>, query: (sql: string) => Promise<unknown>, end: () => Promise<void> }
const pg = createRequire(import.meta.url)('pg') as { Client: new (settings: object) => PgClient }

/**
 * A database of its own for one bench run (ltijs's), on the local
 * PostgreSQL, dropped afterwards so that runs do not inherit each other's
 * rows. Settings: PGHOST, PGPORT, PGUSER, PGPASSWORD (defaults
 * 127.0.0.1:5432, postgres).
 */
export interface BenchDatabase {
  name: string
  host: string
  port: number
  user: string
  password: string
  drop: () => Promise<void>
}

export async function createDatabase (name: string): Promise<BenchDatabase> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`)
  const settings = {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    password: process.env.PGPASSWORD ?? ''
  }
  const admin = new pg.Client({ ...settings, database: 'postgres' })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`)
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  return {
    name,
    ...settings,
    drop: async () => {
      const client = new pg.Client({ ...settings, database: 'postgres' })
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await client.end()
      }
    }
  }
}
