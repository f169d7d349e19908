/**
 * What a launch is made of, and the claims it becomes. Both ways in (the
 * demo launch form and the launch API) produce a LaunchInput; the claims are
 * built once, when the launch starts, with packages/claims, so a launch the
 * tool would refuse is refused here first.
 */
import { buildLaunchClaims, CONTEXT_TYPE, CUSTOM_KEY, type BuildLaunchInput } from '@ltilaunch/claims'
import type { Registration } from './registrations.js'

/** The person launching, as the platform knows them. */
export interface Launcher {
  /** The issuer-local id (never sent as is unless PLATFORM_SUBJECT=id). */
  id: string
  username?: string
  /** Stable and opaque; also the login_hint. */
  sub: string
  name?: string
  givenName?: string
  familyName?: string
  email?: string
  locale?: string
}

export interface LaunchInput {
  tool: Registration
  deploymentId: string
  user: Launcher
  /** Context and institution/system roles, any spelling; written as full URIs. */
  roles: string[]
  context?: { id: string, label?: string, title?: string }
  resourceLink: { id: string, title?: string }
  image?: string
  /** Link-level custom parameters (the launch API's); they win over the registration's. */
  custom?: Record<string, string>
  returnUrl?: string
  /** Where the tool opens: a frame in the platform's page or the whole window (default: the registration's document_target). */
  presentation?: 'iframe' | 'window'
}

/** Where a launch opens the tool: the launch's choice, else the registration's. */
export function presentationOf (input: LaunchInput): 'iframe' | 'window' {
  return input.presentation ?? (input.tool.documentTarget === 'window' ? 'window' : 'iframe')
}

export interface PlatformIdentity {
  guid: string
  name: string
  version: string
  url: string
}

/**
 * Substitutes LTI variables in a registration's custom parameter values. A
 * variable the platform may not fill (privacy flags) or has no value for is
 * left as written, as LTI 1.3 Core asks.
 */
export function substituteVariables (custom: Record<string, string>, input: LaunchInput): Record<string, string> {
  const { user, context, resourceLink, tool } = input
  const names = tool.sendName
  const variables: Record<string, string | undefined> = {
    '$User.id': user.sub,
    '$User.username': names ? user.username : undefined,
    '$Person.name.full': names ? user.name : undefined,
    '$Person.name.given': names ? user.givenName : undefined,
    '$Person.name.family': names ? user.familyName : undefined,
    '$Person.email.primary': tool.sendEmail ? user.email : undefined,
    '$Context.id': context?.id,
    '$Context.title': context?.title,
    '$Context.label': context?.label,
    '$ResourceLink.id': resourceLink.id,
    '$ResourceLink.title': resourceLink.title
  }
  return Object.fromEntries(Object.entries(custom).map(([key, value]) => {
    const replacement = Object.hasOwn(variables, value) ? variables[value] : undefined
    return [key, replacement ?? value]
  }))
}

/** The LTI claims (and the personal claims the registration allows) of a resource link launch. */
export function launchClaims (input: LaunchInput, platform: PlatformIdentity): Record<string, unknown> {
  const { tool, user, context } = input
  const custom: Record<string, string> = { ...substituteVariables(tool.custom, input), ...input.custom }
  if (input.image !== undefined) custom[CUSTOM_KEY.image] = input.image
  const courseName = context?.title ?? context?.label ?? context?.id
  if (courseName !== undefined && custom[CUSTOM_KEY.courseName] === undefined) custom[CUSTOM_KEY.courseName] = courseName

  const personal: NonNullable<BuildLaunchInput['user']> = {}
  if (tool.sendName) {
    if (user.name !== undefined) personal.name = user.name
    if (user.givenName !== undefined) personal.givenName = user.givenName
    if (user.familyName !== undefined) personal.familyName = user.familyName
  }
  if (tool.sendEmail && user.email !== undefined) personal.email = user.email
  const locale = user.locale ?? 'en'

  const build: BuildLaunchInput = {
    deploymentId: input.deploymentId,
    targetLinkUri: tool.targetLinkUri,
    resourceLink: input.resourceLink,
    roles: input.roles,
    toolPlatform: {
      guid: platform.guid,
      name: platform.name,
      version: platform.version,
      productFamilyCode: 'ltilaunch',
      url: platform.url
    },
    launchPresentation: {
      documentTarget: input.presentation ?? tool.documentTarget,
      locale,
      ...(input.returnUrl === undefined ? {} : { returnUrl: input.returnUrl })
    },
    custom
  }
  if (context !== undefined) build.context = { ...context, type: [CONTEXT_TYPE.CourseOffering] }
  if (Object.keys(personal).length > 0) build.user = personal
  return buildLaunchClaims(build)
}
