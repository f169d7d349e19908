import { courseGroup, type RosterReply, type RosterRequest } from '@ltilaunch/claims'
import type { HubClient } from '../drivers/hub-client.js'

/** The hub groups a roster touches besides the course's own. */
export interface RoleGroups {
  staff: string
  learner: string
}

interface HubGroup {
  name: string
  users?: string[]
}

/**
 * Applies a course roster to the hub through its REST API: creates the
 * active members the hub does not know (never deletes a user), puts them in
 * the course group (`course:<ns><id>`, the name the launch's userinfo gives)
 * and in the group of their role (out of the other one, as a launch does),
 * and takes inactive members out of the course group. Idempotent: a second
 * run of the same roster changes nothing and counts everyone unchanged.
 */
export async function applyRoster (hub: HubClient, roles: RoleGroups, roster: RosterRequest, signal?: AbortSignal): Promise<RosterReply> {
  const group = courseGroup(roster.course.id, roster.namespace)
  const opts = signal === undefined ? {} : { signal }
  const active = unique(roster.members.filter((m) => m.active).map((m) => m.username))
  const activeSet = new Set(active)
  // A name listed both active and inactive (two records of one person) stays in.
  const inactive = unique(roster.members.filter((m) => !m.active && !activeSet.has(m.username)).map((m) => m.username))

  let created = 0
  if (active.length > 0) {
    // One request: the hub creates those it does not have; 409 when it has them all.
    const reply = await hub.request<unknown[]>('POST', '/users', { body: { usernames: active }, accept: [409], ...opts })
    if (reply.status === 201 && Array.isArray(reply.data)) created = reply.data.length
  }

  const before = await members(hub, group, opts)
  const toAdd = active.filter((name) => !before.has(name))
  const toRemove = inactive.filter((name) => before.has(name))
  if (toAdd.length > 0) await addTo(hub, group, toAdd, opts)
  if (toRemove.length > 0) {
    await hub.request('DELETE', `/groups/${encodeURIComponent(group)}/users`, { body: { users: toRemove }, ...opts })
  }

  const staff = unique(roster.members.filter((m) => m.active && m.role === 'staff').map((m) => m.username))
  const staffSet = new Set(staff)
  const learners = active.filter((name) => !staffSet.has(name))
  await moveToRole(hub, roles.staff, roles.learner, staff, opts)
  await moveToRole(hub, roles.learner, roles.staff, learners, opts)

  return {
    group,
    created,
    grouped: toAdd.length,
    unchanged: active.length - toAdd.length,
    removed: toRemove.length,
    inactive: inactive.length - toRemove.length
  }
}

function unique (names: string[]): string[] {
  return [...new Set(names)]
}

/** The members of a hub group; none when the group does not exist yet. */
async function members (hub: HubClient, group: string, opts: { signal?: AbortSignal }): Promise<Set<string>> {
  const reply = await hub.request<HubGroup>('GET', `/groups/${encodeURIComponent(group)}`, { accept: [404], ...opts })
  return new Set(reply.status === 404 ? [] : reply.data?.users ?? [])
}

async function addTo (hub: HubClient, group: string, users: string[], opts: { signal?: AbortSignal }): Promise<void> {
  const path = `/groups/${encodeURIComponent(group)}`
  // 409: the group exists already, which is what we want.
  await hub.request('POST', path, { accept: [409], ...opts })
  await hub.request('POST', `${path}/users`, { body: { users }, ...opts })
}

/** Puts users in their role's group and out of the other role's group, touching only what differs. */
async function moveToRole (hub: HubClient, into: string, outOf: string, users: string[], opts: { signal?: AbortSignal }): Promise<void> {
  if (users.length === 0) return
  const have = await members(hub, into, opts)
  const missing = users.filter((name) => !have.has(name))
  if (missing.length > 0) await addTo(hub, into, missing, opts)
  const other = await members(hub, outOf, opts)
  const leaving = users.filter((name) => other.has(name))
  if (leaving.length > 0) {
    await hub.request('DELETE', `/groups/${encodeURIComponent(outOf)}/users`, { body: { users: leaving }, ...opts })
  }
}
