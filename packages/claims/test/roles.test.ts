import t from 'tap'
import {
  classifyRoles,
  DEFAULT_ADMIN_ROLES,
  DEFAULT_STAFF_ROLES,
  normalizeRole,
  normalizeRoles,
  ROLES
} from '../src/index.js'
import { ALL_FIXTURES } from './fixtures/index.js'

const M = 'http://purl.imsglobal.org/vocab/lis/v2/membership#'
const SUB = 'http://purl.imsglobal.org/vocab/lis/v2/membership/'
const INST = 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#'
const SYS = 'http://purl.imsglobal.org/vocab/lis/v2/system/person#'

t.test('ROLES holds the vocabularies as full URIs', async (t) => {
  t.equal(ROLES.system.Administrator, `${SYS}Administrator`)
  t.equal(ROLES.system.SysAdmin, `${SYS}SysAdmin`)
  t.equal(ROLES.system.TestUser, 'http://purl.imsglobal.org/vocab/lti/system/person#TestUser')
  t.equal(ROLES.institution.Instructor, `${INST}Instructor`)
  t.equal(ROLES.institution.Administrator, `${INST}Administrator`)
  for (const name of ['Instructor', 'Learner', 'ContentDeveloper', 'Mentor', 'Administrator', 'Manager', 'Member', 'Officer'] as const) {
    t.equal(ROLES.membership[name], `${M}${name}`)
  }
  t.equal(ROLES.subRoles.Instructor.TeachingAssistant, `${SUB}Instructor#TeachingAssistant`)
  t.equal(ROLES.subRoles.Instructor.Grader, `${SUB}Instructor#Grader`)
  t.equal(ROLES.subRoles.Learner.NonCreditLearner, `${SUB}Learner#NonCreditLearner`)
  t.equal(ROLES.subRoles.Officer['Vice-Chair'], `${SUB}Officer#Vice-Chair`)
  t.ok(Object.isFrozen(ROLES.membership), 'the vocabularies cannot be changed at run time')
})

t.test('normalizeRole turns what platforms send into full URIs', async (t) => {
  const table: Array<[string, string | undefined]> = [
    // full URIs stay
    [`${M}Instructor`, `${M}Instructor`],
    [`${SUB}Instructor#TeachingAssistant`, `${SUB}Instructor#TeachingAssistant`],
    [`${INST}Faculty`, `${INST}Faculty`],
    [ROLES.system.TestUser, ROLES.system.TestUser],
    ['https://example.com/roles#Custom', 'https://example.com/roles#Custom'],
    [`  ${M}Learner  `, `${M}Learner`],
    // same role, other spelling
    ['https://purl.imsglobal.org/vocab/lis/v2/membership#Learner', `${M}Learner`],
    ['http://purl.imsglobal.org/vocab/lis/v2/person#Administrator', `${SYS}Administrator`],
    ['http://purl.imsglobal.org/vocab/lis/v2/person#Faculty', `${INST}Faculty`],
    // bare context role names (LTI 1.3 Core allows them)
    ['Instructor', `${M}Instructor`],
    ['Learner', `${M}Learner`],
    ['learner', `${M}Learner`],
    ['Administrator', `${M}Administrator`],
    ['ContentDeveloper', `${M}ContentDeveloper`],
    ['Mentor', `${M}Mentor`],
    ['TeachingAssistant', `${SUB}Instructor#TeachingAssistant`],
    ['Grader', `${SUB}Instructor#Grader`],
    ['Librarian', `${SUB}ContentDeveloper#Librarian`],
    ['Instructor/Lecturer', `${SUB}Instructor#Lecturer`],
    // LTI 1.1 URNs
    ['urn:lti:role:ims/lis/Instructor', `${M}Instructor`],
    ['urn:lti:role:ims/lis/Learner', `${M}Learner`],
    ['urn:lti:role:ims/lis/Learner/NonCreditLearner', `${SUB}Learner#NonCreditLearner`],
    ['urn:lti:role:ims/lis/TeachingAssistant', `${SUB}Instructor#TeachingAssistant`],
    ['urn:lti:role:ims/lis/TeachingAssistant/Grader', `${SUB}Instructor#Grader`],
    ['urn:lti:role:ims/lis/ContentDeveloper', `${M}ContentDeveloper`],
    ['urn:lti:role:ims/lis/Mentor', `${M}Mentor`],
    ['urn:lti:instrole:ims/lis/Administrator', `${INST}Administrator`],
    ['urn:lti:instrole:ims/lis/administrator', `${INST}Administrator`],
    ['urn:lti:instrole:ims/lis/Student', `${INST}Student`],
    ['urn:lti:sysrole:ims/lis/Administrator', `${SYS}Administrator`],
    ['urn:lti:sysrole:ims/lis/SysAdmin', `${SYS}SysAdmin`],
    // unknown stays, empty goes
    ['urn:lti:role:ims/lis/Wizard', 'urn:lti:role:ims/lis/Wizard'],
    ['Student', 'Student'],
    ['Dean of Students', 'Dean of Students'],
    ['', undefined],
    ['  ', undefined]
  ]
  for (const [input, expected] of table) t.equal(normalizeRole(input), expected, JSON.stringify(input))
  t.equal(normalizeRole(undefined as unknown as string), undefined, 'a non-string is no role')
})

t.test('normalizeRoles accepts a string, a comma list and arrays with junk, and dedupes', async (t) => {
  t.same(normalizeRoles('Instructor'), [`${M}Instructor`])
  t.same(normalizeRoles('Instructor, urn:lti:role:ims/lis/Instructor,Learner'), [`${M}Instructor`, `${M}Learner`])
  t.same(normalizeRoles(['Learner', 42, null, '', { role: 'Instructor' }, `${M}Learner`, ' Mentor ']), [`${M}Learner`, `${M}Mentor`])
  t.same(normalizeRoles(undefined), [])
  t.same(normalizeRoles(7), [])
  t.same(normalizeRoles([]), [])
})

t.test('classifyRoles with the default sets', async (t) => {
  const staff = (roles: unknown): boolean => classifyRoles(roles).isStaff
  const admin = (roles: unknown): boolean => classifyRoles(roles).isAdmin

  t.ok(staff([`${M}Instructor`]), 'Instructor is staff')
  t.ok(staff(['TeachingAssistant']), 'a TeachingAssistant is staff (sub-role of Instructor)')
  t.ok(staff([`${SUB}Instructor#TeachingAssistantSection`]), 'any Instructor sub-role is staff')
  t.ok(staff([`${M}ContentDeveloper`]), 'ContentDeveloper is staff')
  t.ok(staff([`${SUB}ContentDeveloper#Librarian`]), 'ContentDeveloper sub-roles are staff')
  t.ok(staff([`${M}Administrator`]), 'course Administrator is staff')
  t.ok(staff([`${INST}Instructor`]), 'institution Instructor is staff')
  t.ok(staff(['urn:lti:role:ims/lis/Instructor']), 'LTI 1.1 Instructor URN is staff')

  t.notOk(staff([`${M}Learner`]), 'Learner is a learner')
  t.notOk(staff([`${M}Mentor`]), 'Mentor is a learner')
  t.notOk(staff([`${M}Member`]), 'Member is a learner')
  t.notOk(staff([ROLES.system.TestUser]), 'TestUser is a learner')
  t.notOk(staff([`${SUB}Learner#Instructor`]), 'Learner#Instructor follows its principal, Learner')
  t.notOk(staff([`${INST}Faculty`]), 'institution Faculty is not in the default staff set')
  t.notOk(staff([]), 'no roles is a learner')
  t.notOk(staff(undefined), 'a missing claim is a learner')

  t.ok(admin([`${SYS}Administrator`]), 'system Administrator is admin')
  t.ok(admin([`${INST}Administrator`]), 'institution Administrator is admin')
  t.ok(admin(['urn:lti:sysrole:ims/lis/Administrator']), 'LTI 1.1 system Administrator is admin')
  t.notOk(admin([`${M}Administrator`]), 'a course Administrator is not a hub admin')
  t.notOk(admin([`${M}Instructor`]), 'an Instructor is not a hub admin')
  t.notOk(admin([`${SYS}SysAdmin`]), 'SysAdmin is not in the default admin set')

  const result = classifyRoles(['Learner', `${SYS}Administrator`])
  t.same(result, { role: 'staff', isStaff: true, isAdmin: true, roles: [`${M}Learner`, `${SYS}Administrator`] })
  t.same(classifyRoles('Learner'), { role: 'learner', isStaff: false, isAdmin: false, roles: [`${M}Learner`] })
})

t.test('the default sets are the documented ones', async (t) => {
  t.same([...DEFAULT_STAFF_ROLES].sort(), [
    `${INST}Administrator`, `${INST}Instructor`, `${M}Administrator`, `${M}ContentDeveloper`, `${M}Instructor`, `${SYS}Administrator`
  ].sort())
  t.same([...DEFAULT_ADMIN_ROLES].sort(), [`${INST}Administrator`, `${SYS}Administrator`].sort())
  t.ok(Object.isFrozen(DEFAULT_STAFF_ROLES))
})

t.test('classifyRoles with custom sets', async (t) => {
  const options = { staffRoles: ['Instructor', 'Mentor'], adminRoles: ['urn:lti:sysrole:ims/lis/SysAdmin'] }
  t.equal(classifyRoles([`${M}Mentor`], options).role, 'staff', 'a short name in the options matches the full URI')
  t.equal(classifyRoles([`${SUB}Mentor#Tutor`], options).role, 'staff', 'sub-roles of a custom staff role are staff')
  t.equal(classifyRoles([`${M}ContentDeveloper`], options).role, 'learner', 'options replace the default set')
  t.equal(classifyRoles([`${SYS}Administrator`], options).isAdmin, false, 'admin options replace the default set')
  const sysadmin = classifyRoles([`${SYS}SysAdmin`, `${M}Learner`], options)
  t.equal(sysadmin.isAdmin, true, 'the custom admin role matches')
  t.equal(sysadmin.role, 'staff', 'an admin is always staff')
  t.equal(classifyRoles(['Instructor'], { staffRoles: new Set<string>() }).role, 'learner', 'an empty staff set makes everyone a learner')
  t.equal(classifyRoles(['Mentor'], { staffRoles: 'Instructor, Mentor' }).role, 'staff', 'a string option is a comma list, not characters')
  t.equal(classifyRoles(['Learner'], { staffRoles: 'Instructor, Mentor' }).role, 'learner')
  t.equal(classifyRoles(['TeachingAssistant'], { staffRoles: [`${SUB}Instructor#TeachingAssistant`] }).role, 'staff', 'a sub-role can be named exactly')
  t.equal(classifyRoles(['Instructor'], { staffRoles: [`${SUB}Instructor#TeachingAssistant`] }).role, 'learner', 'naming a sub-role does not make the principal staff')
})

t.test('every fixture is classified as expected', async (t) => {
  for (const fixture of ALL_FIXTURES) {
    const result = classifyRoles(fixture.payload['https://purl.imsglobal.org/spec/lti/claim/roles'])
    t.equal(result.role, fixture.expect.role, `${fixture.name}: role`)
    t.equal(result.isAdmin, fixture.expect.isAdmin, `${fixture.name}: admin`)
    t.ok(result.roles.length > 0, `${fixture.name}: roles kept`)
  }
})
