import { type TSchema, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { parse } from 'yaml'

/**
 * Parses a settings document (registrations, users, a policy) written as
 * JSON or YAML; YAML is a superset of JSON, so one parser reads both.
 */
export function parseStructured (text: string): unknown {
  try {
    return parse(text)
  } catch (err) {
    throw new Error(`not valid JSON or YAML (${(err as Error).message.split('\n')[0] ?? ''})`)
  }
}

/** Parses JSON or YAML and checks it against a schema, naming the first few faults. */
export function parseDocument<S extends TSchema> (schema: S, text: string): Static<S> {
  const data = parseStructured(text)
  if (!Value.Check(schema, data)) {
    const faults = [...Value.Errors(schema, data)].slice(0, 5).map((error) => `${error.instancePath || '(top)'} ${error.message}`)
    throw new Error(faults.join('; '))
  }
  return data as Static<S>
}
