/**
 * A course roster as tool-auth hands it to the broker (POST /v1/rosters),
 * read from the platform with NRPS 2.0: who is in the course, under the hub
 * username a launch would give them, staff or learner, and whether they
 * are still active. Strict: this is our own API.
 */
import { Type, type Static } from 'typebox'

/** Most members in one request; tool-auth sends a larger course in several. */
export const ROSTER_BATCH_MAX = 1000

export const RosterMemberSchema = Type.Object({
  /** The hub username, derived and bound to its (issuer, sub) by tool-auth. */
  username: Type.String({ minLength: 1, maxLength: 255 }),
  role: Type.Union([Type.Literal('staff'), Type.Literal('learner')]),
  /** False for NRPS status Inactive or Deleted: taken out of the course group, never deleted from the hub. */
  active: Type.Boolean()
}, { additionalProperties: false })
export type RosterMember = Static<typeof RosterMemberSchema>

export const RosterRequestSchema = Type.Object({
  /** The course (LTI context); its hub group is `course:<prefix><id><suffix>`, as the launch's userinfo says. */
  course: Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }),
  namespace: Type.Optional(Type.Object({
    prefix: Type.String({ maxLength: 64 }),
    suffix: Type.String({ maxLength: 64 })
  }, { additionalProperties: false })),
  members: Type.Array(RosterMemberSchema, { maxItems: ROSTER_BATCH_MAX })
}, { additionalProperties: false })
export type RosterRequest = Static<typeof RosterRequestSchema>

/** What the broker did with one roster request; every count is of members of the request. */
export const RosterReplySchema = Type.Object({
  group: Type.String(),
  /** Hub users created (active members the hub did not know). */
  created: Type.Integer(),
  /** Active members added to the course group. */
  grouped: Type.Integer(),
  /** Active members already in the course group. */
  unchanged: Type.Integer(),
  /** Inactive members taken out of the course group. */
  removed: Type.Integer(),
  /** Inactive members who were not in the course group (nothing to do). */
  inactive: Type.Integer()
}, { additionalProperties: false })
export type RosterReply = Static<typeof RosterReplySchema>
