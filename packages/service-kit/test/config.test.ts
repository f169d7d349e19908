import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from 'typebox'
import { BaseConfigProperties, ConfigError, loadConfig, splitList } from '../src/config.js'

const Schema = Type.Object({
  ...BaseConfigProperties,
  API_KEY: Type.String({ minLength: 8, description: 'the key callers present' }),
  MAX_AGE: Type.Integer({ minimum: 1, default: 600 })
})

t.test('values are read, coerced and defaulted', async (t) => {
  const config = loadConfig(Schema, { PORT: '3000', API_KEY: 'secret-key', TRUST_PROXY: 'true', UNRELATED: 'x' })
  t.equal(config.PORT, 3000)
  t.equal(config.MAX_AGE, 600)
  t.equal(config.HOST, '127.0.0.1')
  t.equal(config.LOG_LEVEL, 'info')
  t.notOk('UNRELATED' in config, 'variables outside the schema are not kept')
})

t.test('every bad or missing value is named with its reason, at once', async (t) => {
  const error = t.throws(() => loadConfig(Schema, { PORT: 'eighty', MAX_AGE: '0', LOG_LEVEL: 'loud' })) as ConfigError
  t.ok(error instanceof ConfigError)
  t.match(error.problems.join('\n'), /PORT must be integer/)
  t.match(error.problems.join('\n'), /API_KEY is required \(the key callers present\)/)
  t.match(error.problems.join('\n'), /MAX_AGE must be >= 1/)
  t.match(error.problems.join('\n'), /LOG_LEVEL/)
  t.equal(error.problems.filter((p) => p.startsWith('LOG_LEVEL')).length, 1, 'one line per variable')
})

t.test('a URL setting must look like one', async (t) => {
  const error = t.throws(() => loadConfig(Schema, { PORT: '1', API_KEY: 'secret-key', REDIS_URL: 'localhost:6379' })) as ConfigError
  t.match(error.problems[0], /^REDIS_URL must match pattern/)
})

t.test('NAME_FILE reads the value from a file; NAME wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kit-config-'))
  const file = join(dir, 'api-key')
  writeFileSync(file, 'from-a-file-123\n')
  t.equal(loadConfig(Schema, { PORT: '1', API_KEY_FILE: file }).API_KEY, 'from-a-file-123', 'one trailing newline is dropped')
  t.equal(loadConfig(Schema, { PORT: '1', API_KEY: 'direct-value', API_KEY_FILE: file }).API_KEY, 'direct-value')
})

t.test('an unreadable NAME_FILE is named', async (t) => {
  const error = t.throws(() => loadConfig(Schema, { PORT: '1', API_KEY_FILE: '/nonexistent/key' })) as ConfigError
  t.match(error.problems[0], /^API_KEY_FILE: cannot read \/nonexistent\/key \(ENOENT\)/)
})

t.test('the schema handed in is not changed', async (t) => {
  const before = JSON.stringify(Schema)
  loadConfig(Schema, { PORT: '1', API_KEY: 'secret-key' })
  t.equal(JSON.stringify(Schema), before)
})

t.test('splitList trims and drops empty parts', async (t) => {
  t.same(splitList(' a, b ,,c '), ['a', 'b', 'c'])
  t.same(splitList(undefined), [])
})
