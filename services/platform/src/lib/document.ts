import { type TSchema, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { parse } from 'yaml'

/** Parses JSON or YAML (YAML is a superset of JSON) and checks it against a schema, naming the first few faults. */
export function parseDocument<S extends TSchema> (schema: S, text: string): Static<S> {
  let data: unknown
  try {
    data = parse(text)
  } catch (err) {
    throw new Error(`not valid JSON or YAML (${(err as Error).message.split('\n')[0] ?? ''})`)
  }
  if (!Value.Check(schema, data)) {
    const faults = [...Value.Errors(schema, data)].slice(0, 5).map((error) => `${error.instancePath || '(top)'} ${error.message}`)
    throw new Error(faults.join('; '))
  }
  return data as Static<S>
}
