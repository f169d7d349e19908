// Writes docs/audit-event.schema.json from the TypeBox schema (src/audit/event.ts);
// test/audit.test.ts fails while the file and the schema differ.
import { writeFileSync } from 'node:fs'
import { auditEventJsonSchema } from '../src/audit/event.js'

export const AUDIT_SCHEMA_FILE = new URL('../../../docs/audit-event.schema.json', import.meta.url)

export function auditSchemaText (): string {
  return `${JSON.stringify(auditEventJsonSchema(), null, 2)}\n`
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\u0000')) {
  writeFileSync(AUDIT_SCHEMA_FILE, auditSchemaText())
  process.stdout.write(`wrote ${AUDIT_SCHEMA_FILE.pathname}\n`)
}
