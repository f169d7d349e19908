/**
 * The demo directory: courses, and users with a password hash, their
 * institution/system roles and their roles in each course. A host site that
 * has its own users calls the launch API instead.
 */
import { Type } from 'typebox'
import { hubUsernameProblem } from '@ltilaunch/claims'
import { parseDocument } from '@ltilaunch/service-kit'
import { isPasswordHash } from './password.js'

const Id = Type.String({ minLength: 1, maxLength: 255 })
const Roles = Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 64 })

const CourseSchema = Type.Object({
  id: Id,
  label: Type.Optional(Type.String({ maxLength: 255 })),
  title: Type.Optional(Type.String({ maxLength: 1024 }))
}, { additionalProperties: false })

const UserSchema = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@-]+$' }),
  /** A stable id; the username when absent. `sub` is derived from it. */
  id: Type.Optional(Id),
  /** A fixed sub (e.g. a UUID) instead of the derived one. */
  sub: Type.Optional(Id),
  password: Type.String({ minLength: 1 }),
  name: Type.Optional(Type.String({ maxLength: 1024 })),
  given_name: Type.Optional(Type.String({ maxLength: 1024 })),
  family_name: Type.Optional(Type.String({ maxLength: 1024 })),
  email: Type.Optional(Type.String({ maxLength: 1024 })),
  locale: Type.Optional(Type.String({ maxLength: 35 })),
  /** Institution and system roles, in any spelling the claims package normalizes. */
  roles: Type.Optional(Roles),
  /** Roles per course id (Learner, Instructor, ... or full URIs). */
  courses: Type.Optional(Type.Record(Type.String(), Roles))
}, { additionalProperties: false })

const DirectorySchema = Type.Object({
  courses: Type.Optional(Type.Array(CourseSchema)),
  users: Type.Array(UserSchema)
}, { additionalProperties: false })

export interface Course {
  id: string
  label?: string
  title?: string
}

export interface DirectoryUser {
  username: string
  id: string
  sub?: string
  passwordHash: string
  name?: string
  givenName?: string
  familyName?: string
  email?: string
  locale?: string
  roles: string[]
  courses: Record<string, string[]>
}

export interface Directory {
  courses: Course[]
  users: DirectoryUser[]
}

export function parseDirectory (text: string | undefined): Directory {
  if (text === undefined || text.trim() === '') return { courses: [], users: [] }
  const data = parseDocument(DirectorySchema, text)
  const courses = data.courses ?? []
  const courseIds = new Set(courses.map((course) => course.id))
  const seen = new Set<string>()
  const users = data.users.map((entry): DirectoryUser => {
    const username = entry.username.toLowerCase()
    if (seen.has(username)) throw new Error(`user ${username} is listed twice`)
    seen.add(username)
    if (!isPasswordHash(entry.password)) {
      throw new Error(`user ${username}: password must be a scrypt hash (make one with \`pnpm --filter @ltilaunch/platform hash-password\`)`)
    }
    for (const course of Object.keys(entry.courses ?? {})) {
      if (!courseIds.has(course)) throw new Error(`user ${username}: course ${course} is not in courses`)
    }
    const user: DirectoryUser = {
      username,
      id: entry.id ?? username,
      passwordHash: entry.password,
      roles: entry.roles ?? [],
      courses: { ...entry.courses }
    }
    if (entry.sub !== undefined) user.sub = entry.sub
    if (entry.name !== undefined) user.name = entry.name
    if (entry.given_name !== undefined) user.givenName = entry.given_name
    if (entry.family_name !== undefined) user.familyName = entry.family_name
    if (entry.email !== undefined) user.email = entry.email
    if (entry.locale !== undefined) user.locale = entry.locale
    return user
  })
  return { courses, users }
}

/**
 * The users whose identifiers JupyterHub would refuse as a username (the
 * sub they launch with, their e-mail), one line each: found when the users
 * file is loaded, not at a launch. With PLATFORM_SUBJECT=id the sub is the
 * user's id.
 */
export function directoryUsernameProblems (directory: Directory, subject: 'opaque' | 'id'): string[] {
  const problems: string[] = []
  for (const user of directory.users) {
    const sub = user.sub ?? (subject === 'id' ? user.id : undefined)
    for (const [what, value] of [['sub', sub], ['email', user.email]] as const) {
      if (value === undefined || value === '') continue
      const problem = hubUsernameProblem(value)
      if (problem !== undefined) problems.push(`user ${user.username}: ${what} ${JSON.stringify(value.slice(0, 60))} cannot be a JupyterHub username: ${problem}`)
    }
  }
  return problems
}
