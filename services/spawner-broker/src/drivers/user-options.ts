import { splitList } from '@ltilaunch/service-kit'
import type { BrokerConfig } from '../config.js'

/**
 * How `user_options` carry the image to the hub's spawner.
 *  - DockerSpawner (with `allowed_images` or its default options) reads `{image}`.
 *  - KubeSpawner with a `profile_list` reads `{profile, <option>: <choice>}` for a
 *    listed choice and `{profile, <option>: 'unlisted_choice',
 *    '<option>--unlisted-choice': <image>}` for an image its profile lets users
 *    type in (the option needs `unlisted_choice.enabled`).
 */
export class UserOptionsForm {
  readonly #form: BrokerConfig['HUB_USER_OPTIONS_FORM']
  readonly #profile: string | undefined
  readonly #option: string
  readonly #choices: Map<string, string>
  readonly #images: Map<string, string>

  constructor (config: Pick<BrokerConfig, 'HUB_USER_OPTIONS_FORM' | 'HUB_KUBESPAWNER_PROFILE' | 'HUB_KUBESPAWNER_IMAGE_OPTION' | 'HUB_KUBESPAWNER_CHOICES'>) {
    this.#form = config.HUB_USER_OPTIONS_FORM
    this.#profile = config.HUB_KUBESPAWNER_PROFILE
    this.#option = config.HUB_KUBESPAWNER_IMAGE_OPTION
    this.#choices = new Map()
    this.#images = new Map()
    for (const entry of splitList(config.HUB_KUBESPAWNER_CHOICES)) {
      const at = entry.lastIndexOf('=')
      if (at <= 0) continue
      const image = entry.slice(0, at).trim()
      const choice = entry.slice(at + 1).trim()
      this.#choices.set(image, choice)
      this.#images.set(choice, image)
    }
  }

  build (image: string): Record<string, string> {
    if (this.#form === 'dockerspawner') return { image }
    const out: Record<string, string> = {}
    if (this.#profile) out.profile = this.#profile
    const choice = this.#choices.get(image)
    if (choice !== undefined) {
      out[this.#option] = choice
    } else {
      out[this.#option] = 'unlisted_choice'
      out[`${this.#option}--unlisted-choice`] = image
    }
    return out
  }

  /** The image a running server was started with, when its user_options tell. */
  imageOf (options: unknown): string | undefined {
    if (options === null || typeof options !== 'object') return undefined
    const values = options as Record<string, unknown>
    if (this.#form === 'dockerspawner') return typeof values.image === 'string' ? values.image : undefined
    const typed = values[`${this.#option}--unlisted-choice`]
    if (typeof typed === 'string' && typed !== '') return typed
    const choice = values[this.#option]
    return typeof choice === 'string' ? this.#images.get(choice) : undefined
  }
}
