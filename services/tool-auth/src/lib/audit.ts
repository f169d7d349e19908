import type { HubUserInfo } from '@ltilaunch/claims'
import type { AuditActor, AuditTarget } from '@ltilaunch/service-kit'

/** The launched person, as an audit event names them: (issuer, sub), with the hub username and role. */
export function launchActor (userinfo: HubUserInfo): AuditActor {
  return { issuer: userinfo.lti.issuer, sub: userinfo.sub, username: userinfo.preferred_username, role: userinfo.lti.role }
}

/** What a launch was for, as an audit event names it (never its launch id). */
export function launchTarget (userinfo: HubUserInfo): AuditTarget {
  return {
    client_id: userinfo.lti.client_id,
    deployment_id: userinfo.lti.deployment_id,
    context_id: userinfo.lti.context?.id,
    resource_link_id: userinfo.lti.resource_link?.id,
    image: userinfo.lti.image
  }
}
