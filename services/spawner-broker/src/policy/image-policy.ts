import { readFile } from 'node:fs/promises'
import { ConfigError, parseStructured, splitList } from '@ltilaunch/service-kit'
import type { BrokerConfig } from '../config.js'

export type Role = 'staff' | 'learner'

/**
 * The policy as written in IMAGE_POLICY_FILE (JSON or YAML) or assembled
 * from ALLOWED_IMAGES, IMAGE_PATTERNS, DEFAULT_IMAGE, STAFF_ONLY_IMAGES and
 * LEARNER_IMAGES.
 */
/** An allowed image with the words a person picking it reads (the deep linking picker). */
export interface ImageEntrySpec {
  image: string
  /** A display name (default: the alias, or the image). */
  name?: string
  description?: string
}

export interface ImagePolicySpec {
  /**
   * Images, or alias → image (as DockerSpawner's allowed_images takes a list
   * or a dict); an entry may be `{image, name?, description?}` instead of the
   * bare image, for the picker.
   */
  allowed?: Array<string | ImageEntrySpec> | Record<string, string | ImageEntrySpec>
  /** Regexes of further allowed images; each must match the whole image. */
  patterns?: string[]
  /** The image of a launch that names none (default: the first allowed image). */
  default?: string
  /** Images, aliases or `/regexes/` only staff may start. */
  staffOnly?: string[]
  /** `any` (default): learners may start what the policy allows but staff-only images; `allowed`/`course`: only listed images, patterns are staff's. */
  learnerImages?: 'any' | 'allowed' | 'course'
}

/** One image of the catalog: what the picker shows, and the reference a launch names it by. */
export interface CatalogImage {
  /** What a launch's `image` custom parameter carries: the alias where there is one, else the image. */
  reference: string
  image: string
  name: string
  description?: string
  staffOnly: boolean
}

export interface ResolvedImage {
  image: string
  /** The alias the launch named, if it named one. */
  alias?: string
  via: 'default' | 'alias' | 'listed' | 'pattern'
}

/** Why an image was refused, in words for the person who asked for it. */
export class ImageRefusal extends Error {
  constructor (message: string, readonly image: string) {
    super(message)
    this.name = 'ImageRefusal'
  }
}

const MAX_ECHO = 200

export class ImagePolicy {
  readonly aliases: ReadonlyMap<string, string>
  readonly listed: ReadonlySet<string>
  readonly patterns: readonly RegExp[]
  /** The patterns as the administrator wrote them, for messages. */
  readonly patternSources: readonly string[]
  readonly defaultImage: string
  readonly learnerListedOnly: boolean
  /** The listed images in the administrator's order, with their names: what the picker offers. */
  readonly catalog: readonly CatalogImage[]
  readonly #staffOnlyExact: Set<string>
  readonly #staffOnlyPatterns: RegExp[]

  constructor (spec: ImagePolicySpec) {
    const problems: string[] = []
    const aliases = new Map<string, string>()
    const listed = new Set<string>()
    const entries: Array<{ alias?: string, entry: ImageEntrySpec }> = []
    if (Array.isArray(spec.allowed)) {
      spec.allowed.forEach((value, i) => {
        const entry = imageEntry(value, `allowed[${i}]`, problems)
        if (entry === undefined) return
        listed.add(entry.image)
        entries.push({ entry })
      })
    } else if (spec.allowed !== undefined && spec.allowed !== null) {
      if (typeof spec.allowed !== 'object') {
        problems.push('allowed must be a list of images or a map of alias to image')
      } else {
        for (const [alias, value] of Object.entries(spec.allowed)) {
          const entry = imageEntry(value, `allowed.${alias}`, problems)
          if (entry === undefined) continue
          aliases.set(alias.trim(), entry.image)
          listed.add(entry.image)
          entries.push({ alias: alias.trim(), entry })
        }
      }
    }
    const patterns = compileAll(spec.patterns ?? [], 'patterns', problems)
    const staffOnlyExact = new Set<string>()
    const staffOnlyPatterns: RegExp[] = []
    for (const entry of spec.staffOnly ?? []) {
      const m = /^\/(.+)\/$/.exec(entry)
      if (m?.[1] !== undefined) staffOnlyPatterns.push(...compileAll([m[1]], 'staffOnly', problems))
      else staffOnlyExact.add(aliases.get(entry) ?? entry)
    }
    if (listed.size === 0 && patterns.length === 0) problems.push('the policy allows no image: give allowed images or patterns')
    const fallback = spec.default?.trim() || [...listed][0]
    if (!fallback) problems.push('a default image is required when only patterns are given (DEFAULT_IMAGE or "default")')
    if (spec.learnerImages !== undefined && !['any', 'allowed', 'course'].includes(spec.learnerImages)) {
      problems.push('learnerImages must be any, allowed or course')
    }
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `image policy: ${p}`))

    this.aliases = aliases
    this.listed = listed
    this.patterns = patterns
    this.patternSources = (spec.patterns ?? []).map(String)
    // An alias is a fine default too.
    this.defaultImage = aliases.get(fallback ?? '') ?? fallback ?? ''
    this.learnerListedOnly = spec.learnerImages === 'allowed' || spec.learnerImages === 'course'
    this.#staffOnlyExact = staffOnlyExact
    this.#staffOnlyPatterns = staffOnlyPatterns
    // An image listed twice (a bare entry and an alias) is offered once, under its first entry.
    const offered = new Set<string>()
    const catalog: CatalogImage[] = []
    for (const { alias, entry } of entries) {
      if (offered.has(entry.image)) continue
      offered.add(entry.image)
      catalog.push({
        reference: alias ?? entry.image,
        image: entry.image,
        name: entry.name ?? alias ?? entry.image,
        ...(entry.description === undefined ? {} : { description: entry.description }),
        staffOnly: this.isStaffOnly(entry.image)
      })
    }
    this.catalog = catalog
  }

  /**
   * The image a launch starts: the default when it names none (absent or
   * blank), an alias's image, a listed image, or one matching a pattern.
   * Throws ImageRefusal naming the image and what is allowed.
   */
  resolve (requested: string | undefined, role: Role): ResolvedImage {
    const asked = requested?.trim() ?? ''
    let resolved: ResolvedImage
    if (asked === '') {
      resolved = { image: this.defaultImage, via: 'default' }
    } else if (this.aliases.has(asked)) {
      resolved = { image: this.aliases.get(asked) as string, alias: asked, via: 'alias' }
    } else if (this.listed.has(asked)) {
      resolved = { image: asked, via: 'listed' }
    } else if (this.patterns.some((p) => p.test(asked))) {
      if (role === 'learner' && this.learnerListedOnly) {
        throw new ImageRefusal(`The image "${echo(asked)}" may only be chosen by staff. ${this.describe('learner')}`, asked)
      }
      resolved = { image: asked, via: 'pattern' }
    } else {
      throw new ImageRefusal(`The image "${echo(asked)}" is not allowed. ${this.describe(role)}`, asked)
    }
    // The default is the administrator's choice, so it is never refused.
    if (role === 'learner' && resolved.via !== 'default' && this.isStaffOnly(resolved.image)) {
      throw new ImageRefusal(`The image "${echo(asked)}" may only be started by staff. ${this.describe('learner')}`, asked)
    }
    return resolved
  }

  isStaffOnly (image: string): boolean {
    return this.#staffOnlyExact.has(image) || this.#staffOnlyPatterns.some((p) => p.test(image))
  }

  /** What a role may start, in one sentence. */
  describe (role: Role): string {
    const names: string[] = []
    const aliased = new Set(this.aliases.values())
    for (const [alias, image] of this.aliases) {
      if (role === 'learner' && this.isStaffOnly(image)) continue
      names.push(`${alias} (${image})`)
    }
    for (const image of this.listed) {
      if (aliased.has(image) || (role === 'learner' && this.isStaffOnly(image))) continue
      names.push(image)
    }
    const patterns = role === 'learner' && this.learnerListedOnly ? [] : this.patternSources
    const parts: string[] = []
    if (names.length > 0) parts.push(names.join(', '))
    if (patterns.length > 0) parts.push(`an image matching ${patterns.join(' or ')}`)
    const what = parts.length > 0 ? parts.join('; or ') : 'none'
    return `Allowed images: ${what}. Leave the image empty for the default, ${this.defaultImage}.`
  }
}

/** A bare image or `{image, name?, description?}`, trimmed; undefined (with a problem noted) when unusable. */
function imageEntry (value: unknown, where: string, problems: string[]): ImageEntrySpec | undefined {
  if (typeof value === 'string') {
    if (value.trim() !== '') return { image: value.trim() }
    problems.push(`${where}: the image must be a non-empty string`)
    return undefined
  }
  const v = value as Record<string, unknown> | null
  if (typeof v !== 'object' || v === null || typeof v.image !== 'string' || v.image.trim() === '') {
    problems.push(`${where}: give the image as a non-empty string, or as {image, name, description}`)
    return undefined
  }
  for (const field of ['name', 'description'] as const) {
    if (v[field] !== undefined && typeof v[field] !== 'string') {
      problems.push(`${where}.${field} must be a string`)
      return undefined
    }
  }
  const entry: ImageEntrySpec = { image: v.image.trim() }
  if (typeof v.name === 'string' && v.name.trim() !== '') entry.name = v.name.trim()
  if (typeof v.description === 'string' && v.description.trim() !== '') entry.description = v.description.trim()
  return entry
}

function echo (value: string): string {
  return value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}…` : value
}

function compileAll (sources: unknown[], where: string, problems: string[]): RegExp[] {
  const out: RegExp[] = []
  for (const source of sources) {
    if (typeof source !== 'string' || source === '') {
      problems.push(`${where}: every pattern must be a non-empty string`)
      continue
    }
    try {
      // Anchored: a pattern must match the whole image, never a part of it.
      out.push(new RegExp(`^(?:${source.replace(/^\^/, '').replace(/\$$/, '')})$`))
    } catch (err) {
      problems.push(`${where}: ${JSON.stringify(source)} is not a valid regular expression (${(err as Error).message})`)
    }
  }
  return out
}

/** `a, b` or `x=a, y=b` (an alias map); mixing makes a map where bare images are their own alias. */
export function parseAllowedImages (value: string | undefined): ImagePolicySpec['allowed'] {
  const entries = splitList(value)
  if (!entries.some((e) => e.includes('='))) return entries
  const map: Record<string, string> = {}
  for (const entry of entries) {
    const at = entry.indexOf('=')
    if (at < 0) map[entry] = entry
    else map[entry.slice(0, at).trim()] = entry.slice(at + 1).trim()
  }
  return map
}

function splitWords (value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((word) => word !== '')
}

/** The policy from the config: the file when IMAGE_POLICY_FILE is set, the variables otherwise. */
export async function loadImagePolicy (config: BrokerConfig): Promise<ImagePolicy> {
  if (config.IMAGE_POLICY_FILE) {
    const spec = await readPolicyFile(config.IMAGE_POLICY_FILE)
    return new ImagePolicy(spec)
  }
  return new ImagePolicy({
    allowed: parseAllowedImages(config.ALLOWED_IMAGES),
    patterns: splitWords(config.IMAGE_PATTERNS),
    ...(config.DEFAULT_IMAGE ? { default: config.DEFAULT_IMAGE } : {}),
    staffOnly: splitWords(config.STAFF_ONLY_IMAGES),
    learnerImages: config.LEARNER_IMAGES
  })
}

async function readPolicyFile (path: string): Promise<ImagePolicySpec> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError([`IMAGE_POLICY_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`])
  }
  let data: unknown
  try {
    data = parseStructured(text)
  } catch (err) {
    throw new ConfigError([`IMAGE_POLICY_FILE: ${path} is ${(err as Error).message}`])
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([`IMAGE_POLICY_FILE: ${path} must hold an object with "allowed" (and optionally patterns, default, staffOnly, learnerImages)`])
  }
  return data as ImagePolicySpec
}
