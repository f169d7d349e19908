import t from 'tap'
import { LTI_CLAIM, USERNAME_FALLBACK_CLAIM, UsernameError, usernameFromClaims } from '../src/index.js'
import { ALL_FIXTURES, brightspaceMentor, moodleStudent, sakaiStudent } from './fixtures/index.js'

t.test('the default key is email, as in ltiauthenticator', async (t) => {
  t.equal(usernameFromClaims({ sub: 's1', email: 'ada@example.edu' }), 'ada@example.edu')
  t.equal(USERNAME_FALLBACK_CLAIM, 'sub')
})

t.test('every fixture gives the expected username with the default key', async (t) => {
  for (const fixture of ALL_FIXTURES) {
    t.equal(usernameFromClaims(fixture.payload), fixture.expect.username, fixture.name)
  }
})

t.test('a top-level key reads that claim', async (t) => {
  const claims = { sub: 's1', name: 'Ada Lovelace', given_name: ' Ada ', 'https://example.com/claims/login': 'alovelace' }
  t.equal(usernameFromClaims(claims, 'given_name'), 'Ada', 'trimmed')
  t.equal(usernameFromClaims(claims, 'name'), 'Ada Lovelace')
  t.equal(usernameFromClaims(claims, 'sub'), 's1')
  t.equal(usernameFromClaims(claims, 'https://example.com/claims/login'), 'alovelace', 'a vendor claim by its name')
})

t.test('a custom_ key reads from the custom claim', async (t) => {
  t.equal(usernameFromClaims(sakaiStudent.payload, 'custom_user_username'), 'csev')
  t.equal(usernameFromClaims(moodleStudent.payload, 'custom_user_username'), 'aturing')
  const claims = { sub: 's1', [LTI_CLAIM.custom]: { image_user: 'jovyan-7' } }
  t.equal(usernameFromClaims(claims, 'custom_image_user'), 'jovyan-7')
  t.equal(usernameFromClaims({ sub: 's1', image_user: 'top-level' }, 'custom_image_user'), 's1', 'does not read the top level')
  t.equal(usernameFromClaims({ sub: 's1', [LTI_CLAIM.custom]: 'junk' }, 'custom_x'), 's1', 'a non-object custom claim falls back')
})

t.test('numbers become strings', async (t) => {
  t.equal(usernameFromClaims({ sub: 's1', [LTI_CLAIM.custom]: { uid: 4711 } }, 'custom_uid'), '4711')
  t.equal(usernameFromClaims({ sub: 12345 }, 'email'), '12345', 'a numeric sub as fallback')
  t.equal(usernameFromClaims({ sub: 's1', student_number: 0 }, 'student_number'), '0', 'zero is a value')
})

t.test('empty, missing or non-string values fall back to sub', async (t) => {
  const sub = 'd2l-7e2f0c1b-3a45-4d6e-9f80-1a2b3c4d5e6f_1234'
  t.equal(usernameFromClaims(brightspaceMentor.payload, 'http://www.brightspace.com'), sub, 'an object value')
  t.equal(usernameFromClaims({ sub: 's1', email: '' }), 's1', 'empty')
  t.equal(usernameFromClaims({ sub: 's1', email: '   ' }), 's1', 'blank')
  t.equal(usernameFromClaims({ sub: 's1', email: null }), 's1', 'null')
  t.equal(usernameFromClaims({ sub: 's1', email: true }), 's1', 'a boolean')
  t.equal(usernameFromClaims({ sub: 's1', email: ['a@b.c'] }), 's1', 'an array')
  t.equal(usernameFromClaims({ sub: 's1', email: Number.NaN }), 's1', 'NaN')
  t.equal(usernameFromClaims({ sub: 's1' }, ''), 's1', 'an empty key means sub')
  t.equal(usernameFromClaims({ sub: '  s1  ' }), 's1', 'sub is trimmed too')
  t.equal(usernameFromClaims({ sub: 's1', [LTI_CLAIM.custom]: {} }, 'custom_toString'), 's1', 'inherited properties are not values')
})

t.test('no value and no sub is a UsernameError with a code and the key', async (t) => {
  const error = t.throws(() => usernameFromClaims({ email: '' }, 'email')) as unknown
  t.ok(error instanceof UsernameError)
  const usernameError = error as UsernameError
  t.equal(usernameError.code, 'LTI_USERNAME_MISSING')
  t.equal(usernameError.key, 'email')
  t.match(usernameError.message, /"email"/, 'the message names the key')
  t.match(usernameError.message, /sub/, 'and says sub was missing too')

  const custom = t.throws(() => usernameFromClaims({ sub: '' }, 'custom_user_username')) as UsernameError
  t.equal(custom.code, 'LTI_USERNAME_MISSING')
  t.match(custom.message, /custom_user_username/)
  t.throws(() => usernameFromClaims({}), UsernameError, 'an anonymous launch')
})
