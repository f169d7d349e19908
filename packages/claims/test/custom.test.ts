import t from 'tap'
import { CUSTOM_KEY, customParams, LTI_CLAIM, stringifyCustom } from '../src/index.js'
import { canvasInstructor, lti11UrnRoles } from './fixtures/index.js'

t.test('CUSTOM_KEY names the keys of the MIT Learn proof of concept', async (t) => {
  t.same(CUSTOM_KEY, { image: 'image', courseName: 'course_name' })
})

t.test('customParams makes every value a string', async (t) => {
  t.same(customParams(canvasInstructor.payload), {
    image: 'quay.io/jupyter/scipy-notebook:2024-05-27',
    course_name: 'DS101',
    canvas_course_id: '1234',
    canvas_user_id: '5678',
    canvas_user_login_id: 'ada'
  })
  t.same(customParams(lti11UrnRoles.payload), {
    image: 'base',
    max_cpus: '2',
    gpu: 'false',
    extra: '{"a":1}'
  }, 'booleans via String, objects as JSON, null dropped')
  t.same(customParams({ [LTI_CLAIM.custom]: { list: [1, 'a'], flag: true, undef: undefined, text: ' kept as sent ' } }), {
    list: '[1,"a"]',
    flag: 'true',
    text: ' kept as sent '
  })
})

t.test('customParams accepts a missing or non-object claim as {}', async (t) => {
  t.same(customParams({}), {})
  t.same(customParams({ [LTI_CLAIM.custom]: null }), {})
  t.same(customParams({ [LTI_CLAIM.custom]: 'image=scipy' }), {})
  t.same(customParams({ [LTI_CLAIM.custom]: ['a'] }), {})
  t.same(customParams(undefined), {})
  t.same(customParams('not a payload'), {})
})

t.test('a "__proto__" key stays a plain value', async (t) => {
  const custom = JSON.parse('{"__proto__": "x", "image": "scipy"}') as unknown
  const params = stringifyCustom(custom)
  t.equal(Object.getPrototypeOf(params), Object.prototype, 'the prototype is untouched')
  t.equal(params.image, 'scipy')
  t.ok(Object.hasOwn(params, '__proto__'), 'kept as an own property')
})
