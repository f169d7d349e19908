/**
 * LTI role vocabularies, role normalization and staff/learner classification.
 *
 * Platforms send roles in several spellings: full LIS v2 URIs (what LTI 1.3
 * asks for), the bare context role names that LTI 1.3 Core allows
 * (`Instructor`), and LTI 1.1 URNs (`urn:lti:role:ims/lis/Instructor`).
 * Everything is normalized to the full URI first, so the staff/learner
 * decision only has to know one spelling. Vocabularies: LTI 1.3 Core, A.2.
 */

type Vocabulary<P extends string, N extends string> = { readonly [K in N]: `${P}${K}` }

function vocabulary<const P extends string, const N extends string> (prefix: P, names: readonly N[]): Vocabulary<P, N> {
  return Object.freeze(Object.fromEntries(names.map((name) => [name, `${prefix}${name}`]))) as Vocabulary<P, N>
}

/** Prefixes of the role vocabularies, in their canonical (http) spelling. */
export const ROLE_PREFIX = {
  system: 'http://purl.imsglobal.org/vocab/lis/v2/system/person#',
  ltiSystem: 'http://purl.imsglobal.org/vocab/lti/system/person#',
  institution: 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#',
  membership: 'http://purl.imsglobal.org/vocab/lis/v2/membership#',
  subRole: 'http://purl.imsglobal.org/vocab/lis/v2/membership/',
  /** Deprecated by LTI 1.3 Core; once used for system and institution roles alike. */
  deprecatedPerson: 'http://purl.imsglobal.org/vocab/lis/v2/person#'
} as const

const SYSTEM_NAMES = ['Administrator', 'None', 'AccountAdmin', 'Creator', 'SysAdmin', 'SysSupport', 'User'] as const
const LTI_SYSTEM_NAMES = ['TestUser'] as const
const INSTITUTION_NAMES = [
  'Administrator', 'Faculty', 'Guest', 'None', 'Other', 'Staff', 'Student',
  'Alumni', 'Instructor', 'Learner', 'Member', 'Mentor', 'Observer', 'ProspectiveStudent'
] as const
const MEMBERSHIP_NAMES = [
  'Administrator', 'ContentDeveloper', 'Instructor', 'Learner', 'Mentor', 'Manager', 'Member', 'Officer'
] as const

type ContextRoleName = (typeof MEMBERSHIP_NAMES)[number]

const SUB_ROLE_NAMES = {
  Administrator: ['Administrator', 'Developer', 'ExternalDeveloper', 'ExternalSupport', 'ExternalSystemAdministrator', 'Support', 'SystemAdministrator'],
  ContentDeveloper: ['ContentDeveloper', 'ContentExpert', 'ExternalContentExpert', 'Librarian'],
  Instructor: [
    'ExternalInstructor', 'Grader', 'GuestInstructor', 'Lecturer', 'PrimaryInstructor', 'SecondaryInstructor',
    'TeachingAssistant', 'TeachingAssistantGroup', 'TeachingAssistantOffering', 'TeachingAssistantSection',
    'TeachingAssistantSectionAssociation', 'TeachingAssistantTemplate'
  ],
  Learner: ['ExternalLearner', 'GuestLearner', 'Instructor', 'Learner', 'NonCreditLearner'],
  Manager: ['AreaManager', 'CourseCoordinator', 'ExternalObserver', 'Manager', 'Observer'],
  Member: ['Member'],
  Mentor: [
    'Advisor', 'Auditor', 'ExternalAdvisor', 'ExternalAuditor', 'ExternalLearningFacilitator', 'ExternalMentor',
    'ExternalReviewer', 'ExternalTutor', 'LearningFacilitator', 'Mentor', 'Reviewer', 'Tutor'
  ],
  Officer: ['Chair', 'Communications', 'Secretary', 'Treasurer', 'Vice-Chair']
} as const satisfies Record<ContextRoleName, readonly string[]>

type SubRoles = {
  readonly [P in ContextRoleName]: Vocabulary<`${typeof ROLE_PREFIX.subRole}${P}#`, (typeof SUB_ROLE_NAMES)[P][number]>
}

/**
 * The role vocabularies of LTI 1.3 as full URIs.
 *
 * `ROLES.system` also holds the LTI system role `TestUser`
 * (`http://purl.imsglobal.org/vocab/lti/system/person#TestUser`), which
 * Canvas's "student view" sends. `ROLES.subRoles.Instructor.TeachingAssistant`
 * is `http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant`.
 */
export const ROLES = Object.freeze({
  system: Object.freeze({
    ...vocabulary(ROLE_PREFIX.system, SYSTEM_NAMES),
    ...vocabulary(ROLE_PREFIX.ltiSystem, LTI_SYSTEM_NAMES)
  }),
  institution: vocabulary(ROLE_PREFIX.institution, INSTITUTION_NAMES),
  membership: vocabulary(ROLE_PREFIX.membership, MEMBERSHIP_NAMES),
  subRoles: Object.freeze(Object.fromEntries(
    MEMBERSHIP_NAMES.map((principal) => [principal, vocabulary(`${ROLE_PREFIX.subRole}${principal}#`, SUB_ROLE_NAMES[principal])])
  )) as SubRoles
})

/** Case-insensitive lookup of a canonical name in a list of names. */
function canonical (names: readonly string[], name: string): string | undefined {
  const lower = name.toLowerCase()
  return names.find((candidate) => candidate.toLowerCase() === lower)
}

/** A sub-role name that belongs to exactly one principal context role, e.g. Grader → Instructor. */
const PRINCIPAL_OF_SUB_ROLE = (() => {
  const owners = new Map<string, string[]>()
  for (const [principal, subs] of Object.entries(SUB_ROLE_NAMES)) {
    for (const sub of subs) owners.set(sub.toLowerCase(), [...(owners.get(sub.toLowerCase()) ?? []), principal])
  }
  const unique = new Map<string, { principal: string, sub: string }>()
  for (const [principal, subs] of Object.entries(SUB_ROLE_NAMES)) {
    for (const sub of subs) {
      if (owners.get(sub.toLowerCase())?.length === 1) unique.set(sub.toLowerCase(), { principal, sub })
    }
  }
  return unique
})()

/**
 * A context role from its principal name and optional sub-role name.
 * LIS 1.1 had TeachingAssistant as a principal role; LIS v2 (LTI 1.3) made
 * it a sub-role of Instructor, and its LIS 1.1 sub-roles moved along.
 */
function contextRole (principalName: string, subName?: string): string | undefined {
  let principal = canonical(MEMBERSHIP_NAMES, principalName)
  let sub = subName
  if (principal === undefined && principalName.toLowerCase() === 'teachingassistant') {
    principal = 'Instructor'
    sub = subName ?? 'TeachingAssistant'
  }
  if (principal === undefined) {
    if (subName !== undefined) return undefined
    const owner = PRINCIPAL_OF_SUB_ROLE.get(principalName.toLowerCase())
    return owner === undefined ? undefined : `${ROLE_PREFIX.subRole}${owner.principal}#${owner.sub}`
  }
  if (sub === undefined) return `${ROLE_PREFIX.membership}${principal}`
  const subNames: readonly string[] = SUB_ROLE_NAMES[principal as ContextRoleName]
  return `${ROLE_PREFIX.subRole}${principal}#${canonical(subNames, sub) ?? sub}`
}

const URN_CONTEXT = 'urn:lti:role:ims/lis/'
const URN_INSTITUTION = 'urn:lti:instrole:ims/lis/'
const URN_SYSTEM = 'urn:lti:sysrole:ims/lis/'

/**
 * Turns a role as a real platform sends it into the full LIS v2 URI.
 *
 * - full URIs are kept as they are; two spellings that mean the same role
 *   are canonicalized: `https://purl.imsglobal.org/vocab/...` → `http://...`,
 *   and the deprecated `.../lis/v2/person#X` → the system role X if there is
 *   one, else the institution role X;
 * - bare context role names (`Instructor`, `Learner`; case-insensitive)
 *   become membership roles, and bare sub-role names that belong to one
 *   principal become that sub-role (`TeachingAssistant`, `Grader` →
 *   `membership/Instructor#...`); `Instructor/Lecturer` works as well;
 * - LTI 1.1 URNs: `urn:lti:role:ims/lis/X[/Y]` → context role,
 *   `urn:lti:instrole:ims/lis/X` → institution role,
 *   `urn:lti:sysrole:ims/lis/X` → system role;
 * - anything else is kept, trimmed; empty or non-string input → `undefined`.
 */
export function normalizeRole (role: string): string | undefined {
  if (typeof role !== 'string') return undefined
  const value = role.trim()
  if (value === '') return undefined
  const lower = value.toLowerCase()

  if (lower.startsWith('http://') || lower.startsWith('https://')) {
    const uri = value.startsWith('https://purl.imsglobal.org/vocab/') ? `http://${value.slice('https://'.length)}` : value
    if (uri.startsWith(ROLE_PREFIX.deprecatedPerson)) {
      const name = uri.slice(ROLE_PREFIX.deprecatedPerson.length)
      const system = canonical(SYSTEM_NAMES, name)
      if (system !== undefined) return `${ROLE_PREFIX.system}${system}`
      const institution = canonical(INSTITUTION_NAMES, name)
      if (institution !== undefined) return `${ROLE_PREFIX.institution}${institution}`
    }
    return uri
  }

  if (lower.startsWith(URN_CONTEXT)) {
    const [principal = '', sub] = value.slice(URN_CONTEXT.length).split('/')
    return contextRole(principal, sub) ?? value
  }
  if (lower.startsWith(URN_INSTITUTION)) {
    const name = canonical(INSTITUTION_NAMES, value.slice(URN_INSTITUTION.length))
    return name === undefined ? value : `${ROLE_PREFIX.institution}${name}`
  }
  if (lower.startsWith(URN_SYSTEM)) {
    const name = canonical(SYSTEM_NAMES, value.slice(URN_SYSTEM.length))
    return name === undefined ? value : `${ROLE_PREFIX.system}${name}`
  }
  if (!value.includes(':')) {
    const parts = value.split('/')
    if (parts.length <= 2) return contextRole(parts[0] ?? '', parts[1]) ?? value
  }
  return value
}

/**
 * Normalizes a roles claim as it arrives: an array (non-strings dropped), a
 * single string or a comma-separated list (LTI 1.1 style). Every entry goes
 * through {@link normalizeRole}; empty entries are dropped and duplicates
 * removed, keeping the first order.
 */
export function normalizeRoles (roles: unknown): string[] {
  const entries = typeof roles === 'string' ? [roles] : Array.isArray(roles) ? roles : []
  const out = new Set<string>()
  for (const entry of entries) {
    if (typeof entry !== 'string') continue
    for (const part of entry.split(',')) {
      const role = normalizeRole(part)
      if (role !== undefined) out.add(role)
    }
  }
  return [...out]
}

/**
 * The roles that make a user staff by default: the context roles
 * Instructor, ContentDeveloper and Administrator (with their sub-roles, so a
 * TeachingAssistant, `membership/Instructor#TeachingAssistant`, is staff),
 * and, for launches that carry no context role at all, system Administrator
 * and institution Administrator and Instructor. Mentor is not here: in LIS a
 * Mentor is an advisor, tutor, reviewer or parent (Canvas sends it for
 * observers), and staff may carry more power in the hub than such a person
 * needs; an operator who wants mentors as staff lists Mentor.
 */
export const DEFAULT_STAFF_ROLES: readonly string[] = Object.freeze([
  ROLES.system.Administrator,
  ROLES.institution.Administrator,
  ROLES.institution.Instructor,
  ROLES.membership.Instructor,
  ROLES.membership.ContentDeveloper,
  ROLES.membership.Administrator
])

/**
 * The roles that make a user a hub admin by default: none. A hub admin can
 * reach every user's server, so that power comes only from roles an
 * operator lists (`adminRoles`), never from what an LMS happens to send:
 * every Moodle site admin, Canvas account admin and many Brightspace and
 * Blackboard staff carry administrator roles in every launch.
 */
export const DEFAULT_ADMIN_ROLES: readonly string[] = Object.freeze([])

export type LaunchRole = 'staff' | 'learner'

export interface ClassifyRolesOptions {
  /**
   * Roles that make a user staff; short names and URNs are normalized, a
   * string is a comma list. Replaces the default. Context-first applies: an
   * institution or system role listed here counts only in a launch that
   * carries no context role.
   */
  staffRoles?: Iterable<string>
  /**
   * Roles that make a user a hub admin, normalized like `staffRoles`.
   * Replaces the default, which is empty. Matched against every role of the
   * launch, context or not (see {@link classifyRoles}).
   */
  adminRoles?: Iterable<string>
}

export interface RoleClassification {
  role: LaunchRole
  isStaff: boolean
  isAdmin: boolean
  /** The normalized roles the decision was made on. */
  roles: string[]
}

function roleSet (roles: Iterable<string>): Set<string> {
  // A string is iterable too (by characters); treat it as a comma list instead.
  return new Set(normalizeRoles(typeof roles === 'string' ? roles : [...roles]))
}

/** The principal context role of a sub-role URI (`membership/X#Y` → `membership#X`). */
function principalOf (role: string): string | undefined {
  if (!role.startsWith(ROLE_PREFIX.subRole)) return undefined
  const rest = role.slice(ROLE_PREFIX.subRole.length)
  const hash = rest.indexOf('#')
  return hash > 0 ? `${ROLE_PREFIX.membership}${rest.slice(0, hash)}` : undefined
}

function matches (role: string, set: Set<string>): boolean {
  if (set.has(role)) return true
  const principal = principalOf(role)
  return principal !== undefined && set.has(principal)
}

/**
 * Whether a normalized role speaks about the user's membership in this
 * context: anything in the LIS membership vocabulary, known or not
 * (`membership#X`, `membership/X#Y`), an LTI 1.1 context URN that
 * normalization did not recognise (`urn:lti:role:ims/lis/X`), and a bare
 * word that is no known name (`Student`): LTI 1.3 Core allows bare names
 * only for context roles, so a bare word claims to be one.
 */
export function isContextRole (role: string): boolean {
  if (role.startsWith(ROLE_PREFIX.membership) || role.startsWith(ROLE_PREFIX.subRole)) return true
  if (role.toLowerCase().startsWith(URN_CONTEXT)) return true
  return !role.includes(':')
}

/**
 * Decides whether the launching user is staff or a learner, and whether
 * they are a hub admin. Authority comes from the narrowest claim.
 *
 * **Staff or learner, context first.** When the launch carries any context
 * role, only the context roles decide: a Canvas learner of this course who
 * teaches elsewhere (`institution/person#Instructor` beside
 * `membership#Learner`) is a learner here, and a Moodle site admin is
 * whatever Moodle says they are in this course. Institution and system
 * roles count only when the launch has no context role at all: an admin
 * launching from account navigation, or a host site (Open edX, our own
 * `services/platform` API) that sends institution roles only.
 *
 * An unknown context role (a vendor name in the membership vocabulary, an
 * unknown LTI 1.1 context URN, a bare word such as `Student`) still counts
 * as a context role, and is not staff: the platform did say something about
 * this course, and letting a broader institution role override what we
 * cannot read would give more than the launch says. URIs outside the LIS
 * vocabularies (a vendor's own namespace) and the empty string say nothing
 * about this course and are not context roles.
 *
 * By default staff are the context roles Instructor, ContentDeveloper and
 * Administrator with all their sub-roles (a sub-role `membership/X#Y`
 * matches `membership#X`), and, without context roles, system
 * Administrator and institution Administrator and Instructor. Everyone else
 * — Learner, Mentor (Canvas observers, advisors, tutors), Member, Manager,
 * TestUser (Canvas Student View), unknown roles, `[""]`, no roles at all —
 * is a learner.
 *
 * **Admin only where an operator wrote it down.** `isAdmin` is true only
 * when a role of the launch is in `adminRoles`, which is empty by default.
 * The admin list is matched against every role, context or not: hub admin
 * is a power over the whole hub, not over this course, so the roles an
 * operator names for it are typically system or institution roles, and an
 * operator who lists `system/person#Administrator` means exactly the people
 * the LMS calls that, in whatever course they launch from. An admin is
 * always staff (admin is the greater power; a learner badge would only
 * hide it).
 *
 * Options replace the default sets and accept any spelling
 * {@link normalizeRole} knows.
 */
export function classifyRoles (roles: unknown, options: ClassifyRolesOptions = {}): RoleClassification {
  const normalized = normalizeRoles(roles)
  const staff = options.staffRoles === undefined ? new Set(DEFAULT_STAFF_ROLES) : roleSet(options.staffRoles)
  const admin = options.adminRoles === undefined ? new Set(DEFAULT_ADMIN_ROLES) : roleSet(options.adminRoles)
  const contextRoles = normalized.filter(isContextRole)
  const deciding = contextRoles.length > 0 ? contextRoles : normalized
  const isAdmin = normalized.some((role) => matches(role, admin))
  const isStaff = isAdmin || deciding.some((role) => matches(role, staff))
  return { role: isStaff ? 'staff' : 'learner', isStaff, isAdmin, roles: normalized }
}
