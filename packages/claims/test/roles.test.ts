import t from 'tap'
import {
  classifyRoles,
  DEFAULT_ADMIN_ROLES,
  DEFAULT_STAFF_ROLES,
  isContextRole,
  normalizeRole,
  normalizeRoles,
  ROLES
} from '../src/index.js'
import { REAL_LMS_FIXTURES, ROLE_FIXTURES, ROLES_CLAIM } from './fixtures/index.js'

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
  t.ok(staff([`${INST}Instructor`]), 'institution Instructor is staff when there is no context role')
  t.ok(staff([`${SYS}Administrator`]), 'system Administrator is staff when there is no context role')
  t.ok(staff(['urn:lti:role:ims/lis/Instructor']), 'LTI 1.1 Instructor URN is staff')

  t.notOk(staff([`${M}Learner`]), 'Learner is a learner')
  t.notOk(staff([`${M}Mentor`]), 'Mentor is a learner')
  t.notOk(staff([`${SUB}Mentor#Tutor`]), 'Mentor sub-roles (Tutor, Advisor, Reviewer) are learners')
  t.notOk(staff([`${INST}Mentor`]), 'institution Mentor is a learner')
  t.notOk(staff([`${M}Member`]), 'Member is a learner')
  t.notOk(staff([`${M}Manager`]), 'Manager is a learner')
  t.notOk(staff([ROLES.system.TestUser]), 'TestUser is a learner')
  t.notOk(staff([`${SUB}Learner#Instructor`]), 'Learner#Instructor follows its principal, Learner')
  t.notOk(staff([`${INST}Faculty`]), 'institution Faculty is not in the default staff set')
  t.notOk(staff([]), 'no roles is a learner')
  t.notOk(staff(['']), '[""] is a learner')
  t.notOk(staff(undefined), 'a missing claim is a learner')

  t.notOk(admin([`${SYS}Administrator`]), 'system Administrator is not a hub admin by default')
  t.notOk(admin([`${INST}Administrator`]), 'institution Administrator is not a hub admin by default')
  t.notOk(admin([`${M}Administrator`, `${INST}Administrator`, `${SYS}Administrator`, `${SYS}SysAdmin`]), 'no role is a hub admin by default')

  t.same(classifyRoles(['Learner', `${SYS}Administrator`]), { role: 'learner', isStaff: false, isAdmin: false, roles: [`${M}Learner`, `${SYS}Administrator`] })
  t.same(classifyRoles('Learner'), { role: 'learner', isStaff: false, isAdmin: false, roles: [`${M}Learner`] })
})

t.test('context roles decide; institution and system roles count only without one', async (t) => {
  const role = (roles: unknown, options?: Parameters<typeof classifyRoles>[1]): string => classifyRoles(roles, options).role

  t.equal(role([`${INST}Instructor`, `${M}Learner`]), 'learner', 'issue 12: institution Instructor + context Learner is a learner')
  t.equal(role([`${INST}Administrator`, `${SYS}Administrator`, `${M}Learner`]), 'learner', 'administrator roles do not override a context Learner')
  t.equal(role([`${INST}Instructor`, 'Learner']), 'learner', 'a short context name is a context role')
  t.equal(role([`${INST}Instructor`, 'urn:lti:role:ims/lis/Learner']), 'learner', 'an LTI 1.1 context URN is a context role')
  t.equal(role([`${INST}Instructor`, `${SUB}Learner#GuestLearner`]), 'learner', 'a sub-role without its principal is a context role')
  t.equal(role([`${INST}Instructor`, `${M}Mentor`]), 'learner', 'Mentor in the course, Instructor elsewhere: learner')
  t.equal(role([`${INST}Student`, `${M}Instructor`]), 'staff', 'context Instructor wins over institution Student')
  t.equal(role([`${INST}Student`, `${SUB}Instructor#TeachingAssistant`]), 'staff', 'a TA sub-role alone counts as Instructor')
  t.equal(role([`${M}Instructor`, `${M}Learner`]), 'staff', 'any staff context role makes staff')

  t.equal(role([`${INST}Instructor`, `${SYS}User`]), 'staff', 'no context role: institution Instructor is staff (the seed rule)')
  t.equal(role([`${SYS}Administrator`]), 'staff', 'no context role: system Administrator is staff (the seed rule)')
  t.equal(role([`${INST}Administrator`, ROLES.system.TestUser]), 'staff', 'system and LTI system roles are not context roles')
  t.equal(role([`${INST}Instructor`, 'https://example.com/roles#TeachingFellow']), 'staff', 'a vendor URI outside LIS is not a context role')
  t.equal(role([`${INST}Instructor`, '']), 'staff', 'an empty entry is no context role')
  t.equal(role(['http://purl.imsglobal.org/vocab/lis/v2/person#Administrator']), 'staff', 'the deprecated person# spelling is a system role')

  t.equal(role([`${INST}Instructor`, `${M}Wizard`]), 'learner', 'an unknown membership role is a context role, and not staff')
  t.equal(role([`${INST}Instructor`, `${SUB}Wizard#Apprentice`]), 'learner', 'an unknown membership sub-role too')
  t.equal(role([`${INST}Instructor`, 'urn:lti:role:ims/lis/Wizard']), 'learner', 'an unknown LTI 1.1 context URN too')
  t.equal(role([`${INST}Instructor`, 'Student']), 'learner', 'a bare word that is no known name claims to be a context role')
  t.equal(role([`${SUB}Instructor#Wizard`]), 'staff', 'an unknown sub-role of Instructor follows its principal')

  const faculty = { staffRoles: [`${INST}Faculty`, 'Instructor'] }
  t.equal(role([`${INST}Faculty`], faculty), 'staff', 'a custom institution staff role counts without a context role')
  t.equal(role([`${INST}Faculty`, `${M}Learner`], faculty), 'learner', 'context-first holds for custom staff sets')
})

t.test('isContextRole', async (t) => {
  for (const role of [`${M}Learner`, `${M}Wizard`, `${SUB}Instructor#TeachingAssistant`, `${SUB}Wizard#X`, 'urn:lti:role:ims/lis/Wizard', 'Student', 'Dean of Students']) {
    t.ok(isContextRole(role), role)
  }
  for (const role of [`${INST}Instructor`, `${SYS}Administrator`, ROLES.system.TestUser, 'https://example.com/roles#TA', 'urn:lti:instrole:ims/lis/Wizard', 'urn:lti:sysrole:ims/lis/Wizard']) {
    t.notOk(isContextRole(role), role)
  }
})

t.test('the default sets are the documented ones', async (t) => {
  t.same([...DEFAULT_STAFF_ROLES].sort(), [
    `${INST}Administrator`, `${INST}Instructor`, `${M}Administrator`, `${M}ContentDeveloper`, `${M}Instructor`, `${SYS}Administrator`
  ].sort())
  t.same(DEFAULT_ADMIN_ROLES, [], 'no role makes a hub admin unless an operator lists it')
  t.ok(Object.isFrozen(DEFAULT_STAFF_ROLES))
  t.ok(Object.isFrozen(DEFAULT_ADMIN_ROLES))
})

t.test('classifyRoles with custom sets', async (t) => {
  const options = { staffRoles: ['Instructor', 'Mentor'], adminRoles: ['urn:lti:sysrole:ims/lis/SysAdmin'] }
  t.equal(classifyRoles([`${M}Mentor`], options).role, 'staff', 'a short name in the options matches the full URI')
  t.equal(classifyRoles([`${SUB}Mentor#Tutor`], options).role, 'staff', 'sub-roles of a custom staff role are staff')
  t.equal(classifyRoles([`${M}ContentDeveloper`], options).role, 'learner', 'options replace the default set')
  t.equal(classifyRoles([`${SYS}Administrator`], options).isAdmin, false, 'only the listed admin roles make admins')
  const sysadmin = classifyRoles([`${SYS}SysAdmin`, `${M}Learner`], options)
  t.equal(sysadmin.isAdmin, true, 'the listed admin role matches, beside a context Learner')
  t.equal(sysadmin.role, 'staff', 'an admin is always staff')
  t.equal(classifyRoles(['Instructor'], { staffRoles: new Set<string>() }).role, 'learner', 'an empty staff set makes everyone a learner')
  t.equal(classifyRoles(['Mentor'], { staffRoles: 'Instructor, Mentor' }).role, 'staff', 'a string option is a comma list, not characters')
  t.equal(classifyRoles(['Learner'], { staffRoles: 'Instructor, Mentor' }).role, 'learner')
  t.equal(classifyRoles(['TeachingAssistant'], { staffRoles: [`${SUB}Instructor#TeachingAssistant`] }).role, 'staff', 'a sub-role can be named exactly')
  t.equal(classifyRoles(['Instructor'], { staffRoles: [`${SUB}Instructor#TeachingAssistant`] }).role, 'learner', 'naming a sub-role does not make the principal staff')
})

t.test('admin only from roles an operator lists, matched against every role', async (t) => {
  const listed = { adminRoles: 'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator' }
  t.equal(classifyRoles([`${SYS}Administrator`, `${M}Instructor`], listed).isAdmin, true, 'a listed system role counts beside a context role')
  t.equal(classifyRoles(['urn:lti:sysrole:ims/lis/Administrator', 'Learner'], listed).isAdmin, true, 'in any spelling')
  t.equal(classifyRoles([`${INST}Administrator`, `${M}Instructor`], listed).isAdmin, false, 'an unlisted administrator role does not')
  t.equal(classifyRoles([`${M}Administrator`], listed).isAdmin, false, 'a course Administrator is not a system Administrator')
  t.equal(classifyRoles([`${M}Administrator`], { adminRoles: ['Administrator'] }).isAdmin, true, 'a context role can be listed (short name)')
  t.equal(classifyRoles([`${SUB}Administrator#Support`], { adminRoles: ['Administrator'] }).isAdmin, true, 'and its sub-roles follow it')
  t.equal(classifyRoles([`${SYS}Administrator`], { adminRoles: [] }).isAdmin, false, 'an empty list makes no admin')
  t.equal(classifyRoles([`${SYS}Administrator`], { adminRoles: '' }).isAdmin, false, 'an empty string makes no admin')
})

t.test('the 24 real LMS launch shapes, and the odd ones, classify as their fixtures say', async (t) => {
  t.equal(REAL_LMS_FIXTURES.length, 24, '24 real shapes')
  t.equal(new Set(ROLE_FIXTURES.map((fixture) => fixture.name)).size, ROLE_FIXTURES.length, 'every fixture has its own name')
  const listed = { adminRoles: [ROLES.system.Administrator] }
  for (const fixture of ROLE_FIXTURES) {
    const roles = fixture.payload[ROLES_CLAIM]
    const result = classifyRoles(roles)
    t.equal(result.role, fixture.expect.role, `${fixture.name}: role`)
    t.equal(result.isStaff, fixture.expect.isStaff, `${fixture.name}: isStaff`)
    t.equal(result.isAdmin, fixture.expect.isAdmin, `${fixture.name}: isAdmin by default`)
    t.equal(classifyRoles(roles, listed).isAdmin, fixture.expect.isAdminWhenSystemAdministratorListed, `${fixture.name}: isAdmin with system Administrator listed`)
    t.same(result.roles, normalizeRoles(roles), `${fixture.name}: the normalized roles are returned`)
  }
  t.equal(REAL_LMS_FIXTURES.filter((fixture) => classifyRoles(fixture.payload[ROLES_CLAIM]).isAdmin).length, 0, 'no real shape is a hub admin by default')
  t.same(
    REAL_LMS_FIXTURES.filter((fixture) => classifyRoles(fixture.payload[ROLES_CLAIM], listed).isAdmin).map((fixture) => fixture.name).sort(),
    ['Blackboard system administrator', 'Brightspace org admin from the org homepage', 'Moodle site admin enrolled as a student', 'Open edX course staff'],
    'listing system Administrator makes admins of exactly the shapes that carry it'
  )
})
