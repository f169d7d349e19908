import type { PendingLaunchRequest } from '@ltilaunch/claims'
import type { AuditActor, AuditTarget } from '@ltilaunch/service-kit'
import type { StoredLaunch } from './records.js'

/** The launched person, as an audit event names them: (issuer, sub), the hub username and role. */
export function launchActor (request: Omit<PendingLaunchRequest, 'claims'>): AuditActor {
  return { issuer: request.user.issuer, sub: request.user.sub, username: request.username, role: request.role }
}

/** What a launch starts, as an audit event names it (never the launch id: it is the progress page's capability). */
export function launchTarget (launch: StoredLaunch): AuditTarget {
  return {
    client_id: launch.request.platform.clientId,
    deployment_id: launch.request.platform.deploymentId,
    context_id: launch.request.course?.id,
    image: launch.image,
    username: launch.username,
    server: launch.serverName === '' ? undefined : launch.serverName
  }
}
