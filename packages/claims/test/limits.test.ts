import t from 'tap'
import {
  CUSTOM_KEY_MAX_LENGTH, CUSTOM_MAX_BYTES, CUSTOM_MAX_PARAMS, CUSTOM_VALUE_MAX_LENGTH, customClaimProblem, ID_TOKEN_FORM_POST_LIMIT,
  ID_TOKEN_MAX_LENGTH, ID_TOKEN_PAYLOAD_MAX_BYTES, jsonBytes
} from '../src/index.js'

/** A custom claim whose JSON takes exactly `bytes` bytes, in values of at most CUSTOM_VALUE_MAX_LENGTH. */
function customOfBytes (bytes: number): Record<string, string> {
  const custom: Record<string, string> = {}
  for (let i = 0; jsonBytes(custom) < bytes; i++) {
    const key = `p${String(i).padStart(2, '0')}`
    custom[key] = ''
    const room = bytes - jsonBytes(custom)
    custom[key] = 'x'.repeat(Math.max(0, Math.min(CUSTOM_VALUE_MAX_LENGTH, room)))
  }
  return custom
}

t.test('the limits nest: the largest payload, signed, fits the largest token, which fits the callback body', async (t) => {
  const signatureAndHeader = 4096
  t.ok(Math.ceil(ID_TOKEN_PAYLOAD_MAX_BYTES * 4 / 3) + signatureAndHeader <= ID_TOKEN_MAX_LENGTH)
  t.ok(ID_TOKEN_MAX_LENGTH + 'id_token=&state='.length + 1024 <= ID_TOKEN_FORM_POST_LIMIT)
  t.ok(CUSTOM_MAX_BYTES * 4 <= ID_TOKEN_PAYLOAD_MAX_BYTES, 'the custom claim leaves most of the payload to the other claims')
})

t.test('a custom claim of exactly CUSTOM_MAX_BYTES passes; one byte more is refused, naming the limit', async (t) => {
  const largest = customOfBytes(CUSTOM_MAX_BYTES)
  t.equal(jsonBytes(largest), CUSTOM_MAX_BYTES)
  t.equal(customClaimProblem(largest), undefined)
  const over = customOfBytes(CUSTOM_MAX_BYTES + 1)
  t.match(customClaimProblem(over), `take ${CUSTOM_MAX_BYTES + 1} bytes as JSON; at most ${CUSTOM_MAX_BYTES}`)
})

t.test('bytes are counted as encoded: escapes and multi-byte characters count in full', async (t) => {
  const quotes = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`q${i}`, '"'.repeat(CUSTOM_VALUE_MAX_LENGTH / 2)]))
  t.ok(jsonBytes(quotes) > CUSTOM_MAX_BYTES && Object.values(quotes).join('').length < CUSTOM_MAX_BYTES, 'each " is two bytes escaped')
  t.match(customClaimProblem(quotes), /bytes as JSON/)
  t.equal(jsonBytes({ e: '€' }), '{"e":"€"}'.length + 2, '€ is three bytes in UTF-8, not one character')
  const wide = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`w${i}`, '€'.repeat(CUSTOM_VALUE_MAX_LENGTH)]))
  t.ok(jsonBytes(wide) > CUSTOM_MAX_BYTES && JSON.stringify(wide).length < CUSTOM_MAX_BYTES, 'fewer characters than the limit, more bytes')
  t.match(customClaimProblem(wide), /bytes as JSON/)
})

t.test('count, name length and value length are each bounded', async (t) => {
  const many = Object.fromEntries(Array.from({ length: CUSTOM_MAX_PARAMS + 1 }, (_, i) => [`k${i}`, 'v']))
  t.match(customClaimProblem(many), `${CUSTOM_MAX_PARAMS + 1} custom parameters; at most ${CUSTOM_MAX_PARAMS}`)
  t.equal(customClaimProblem(Object.fromEntries(Object.entries(many).slice(1))), undefined)
  t.match(customClaimProblem({ ['k'.repeat(CUSTOM_KEY_MAX_LENGTH + 1)]: 'v' }), `at most ${CUSTOM_KEY_MAX_LENGTH}`)
  t.equal(customClaimProblem({ ['k'.repeat(CUSTOM_KEY_MAX_LENGTH)]: 'v' }), undefined)
  t.match(customClaimProblem({ long: 'v'.repeat(CUSTOM_VALUE_MAX_LENGTH + 1) }), `"long" has ${CUSTOM_VALUE_MAX_LENGTH + 1} characters`)
  t.equal(customClaimProblem({ long: 'v'.repeat(CUSTOM_VALUE_MAX_LENGTH) }), undefined)
})
