/**
 * Just enough HTML for a browser without a browser: the forms of a page
 * with the values a submission would send, whether a page submits a form
 * by itself, and its meta refresh. Comments, scripts and styles are set
 * aside before forms are looked for, attribute values are read quoted or
 * not, and character references are decoded as a browser does.
 */

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', sol: '/', equals: '=', colon: ':', num: '#', period: '.', comma: ','
}
/** References a browser also decodes without the semicolon (the common legacy ones). */
const LEGACY = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp'])

function fromCodePoint (code: number): string {
  if (!Number.isFinite(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd'
  return String.fromCodePoint(code)
}

/**
 * Decodes character references: &amp; &lt; &gt; &quot; &#39; &apos; &nbsp;,
 * decimal &#NN; and hex &#xHH;. In an attribute value (inAttribute), a
 * legacy reference without its semicolon followed by '=' or an alphanumeric
 * is left as it is, as the HTML spec says (so ?a=1&ltb=2 survives).
 */
export function decodeEntities (text: string, inAttribute = false): string {
  if (!text.includes('&')) return text
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*)(;?)/g, (whole, ref: string, semi: string, offset: number) => {
    if (ref.startsWith('#')) {
      const hex = ref[1] === 'x' || ref[1] === 'X'
      return fromCodePoint(parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10))
    }
    const named = NAMED[ref]
    if (named !== undefined && semi === ';') return named
    // Without a semicolon, only a legacy name counts, as the longest prefix (&ampb is &amp + b).
    const legacy = [...LEGACY].filter((name) => ref.startsWith(name)).sort((a, b) => b.length - a.length)[0]
    if (legacy === undefined) return whole
    const next = ref.length > legacy.length ? ref[legacy.length] as string : semi === ';' ? ';' : text[offset + whole.length] ?? ''
    if (inAttribute && /[=A-Za-z0-9]/.test(next)) return whole
    return (NAMED[legacy] as string) + ref.slice(legacy.length) + semi
  })
}

/** Attributes of a start tag's inside (what follows the tag name), names lowercased. */
export function parseAttributes (source: string): Map<string, string> {
  const attributes = new Map<string, string>()
  const pattern = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g
  let match: RegExpExecArray | null
  while ((match = pattern.exec(source)) !== null) {
    const name = (match[1] ?? '').toLowerCase()
    if (attributes.has(name)) continue // the first one wins, as in a browser
    const raw = match[2] ?? match[3] ?? match[4]
    attributes.set(name, raw === undefined ? '' : decodeEntities(raw, true))
  }
  return attributes
}

/** The page with comments, scripts, styles and templates blanked out (offsets kept). */
function blankInert (html: string): string {
  const blank = (text: string): string => text.replace(/[^\n]/g, ' ')
  return html
    .replace(/<!--[\s\S]*?(?:-->|$)/g, blank)
    .replace(/<(script|style|template|textarea|title)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, (whole, tag: string) => {
      // textarea and title keep their tags (a textarea is a form field), only their text is blanked
      if (tag.toLowerCase() === 'textarea' || tag.toLowerCase() === 'title') {
        const open = /^<[^>]*>/.exec(whole)?.[0] ?? ''
        const close = /<\/[^>]*>$/.exec(whole)?.[0] ?? ''
        return open + blank(whole.slice(open.length, whole.length - close.length)) + close
      }
      return blank(whole)
    })
}

export interface FormControl {
  tag: 'input' | 'button' | 'select' | 'textarea'
  type: string
  name: string
  value: string
  /** Whether a plain submission (form.submit()) sends it. */
  successful: boolean
  /** Whether it is a submit button (input type=submit/image, button type=submit). */
  submit: boolean
  /** What a person reads on it: a button's text, an input button's value. */
  label: string
}

export interface HtmlForm {
  index: number
  id?: string
  name?: string
  method: 'GET' | 'POST'
  /** The action, resolved against the page (or its <base href>). */
  action: string
  enctype: string
  attributes: Map<string, string>
  controls: FormControl[]
  /** name → value of what form.submit() sends (last value for a repeated name). */
  fields: Record<string, string>
  /** The same, in order, with repeated names kept. */
  entries: Array<[string, string]>
}

function baseHref (html: string, pageUrl: string): string {
  const tag = /<base\b([^>]*)>/i.exec(html)
  const href = tag ? parseAttributes(tag[1] ?? '').get('href') : undefined
  if (!href) return pageUrl
  try {
    return new URL(href, pageUrl).toString()
  } catch {
    return pageUrl
  }
}

function controlsOf (inner: string, original: string, offset: number): FormControl[] {
  const controls: FormControl[] = []
  const pattern = /<(input|button|select|textarea)\b([^>]*)>/gi
  let match: RegExpExecArray | null
  while ((match = pattern.exec(inner)) !== null) {
    const tag = (match[1] ?? '').toLowerCase() as FormControl['tag']
    const attributes = parseAttributes(match[2] ?? '')
    const name = attributes.get('name') ?? ''
    const disabled = attributes.has('disabled')
    const type = (attributes.get('type') ?? (tag === 'button' ? 'submit' : tag === 'input' ? 'text' : tag)).toLowerCase()
    let value = attributes.get('value') ?? ''
    let successful = name !== '' && !disabled
    let submit = false
    let label = tag === 'input' ? value : ''
    if (tag === 'input') {
      if (type === 'checkbox' || type === 'radio') {
        successful &&= attributes.has('checked')
        if (!attributes.has('value')) value = 'on'
      } else if (type === 'submit' || type === 'image' || type === 'reset' || type === 'button') {
        submit = type === 'submit' || type === 'image'
        successful = false
      } else if (type === 'file') {
        successful = false
      }
    } else if (tag === 'button') {
      submit = type === 'submit'
      successful = false
      const end = inner.slice(pattern.lastIndex).search(/<\/button\s*>/i)
      const text = end < 0 ? '' : original.slice(offset + pattern.lastIndex, offset + pattern.lastIndex + end)
      label = decodeEntities(text.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim()
    } else if (tag === 'select') {
      const end = inner.slice(pattern.lastIndex).search(/<\/select\s*>/i)
      const body = end < 0 ? '' : original.slice(offset + pattern.lastIndex, offset + pattern.lastIndex + end)
      const options = [...body.matchAll(/<option\b([^>]*)>([\s\S]*?)(?=<option\b|<\/select|<\/optgroup|$)/gi)]
        .map((option) => ({ attributes: parseAttributes(option[1] ?? ''), text: option[2] ?? '' }))
      const chosen = options.find((option) => option.attributes.has('selected')) ?? options.find((option) => !option.attributes.has('disabled'))
      if (chosen === undefined) successful = false
      else value = chosen.attributes.get('value') ?? decodeEntities(chosen.text.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim()
      if (attributes.has('multiple')) successful &&= options.some((option) => option.attributes.has('selected'))
    } else if (tag === 'textarea') {
      const end = inner.slice(pattern.lastIndex).search(/<\/textarea\s*>/i)
      const text = end < 0 ? '' : original.slice(offset + pattern.lastIndex, offset + pattern.lastIndex + end)
      value = decodeEntities(text.replace(/^\r?\n/, '')).replace(/\r\n?/g, '\n')
    }
    controls.push({ tag, type, name, value, successful, submit, label })
  }
  return controls
}

/** Every form of a page, in document order. */
export function parseForms (html: string, pageUrl: string): HtmlForm[] {
  const inert = blankInert(html)
  const base = baseHref(inert, pageUrl)
  const forms: HtmlForm[] = []
  const pattern = /<form\b([^>]*)>([\s\S]*?)(?:<\/form\s*>|(?=<form\b)|$)/gi
  let match: RegExpExecArray | null
  while ((match = pattern.exec(inert)) !== null) {
    const attributes = parseAttributes(match[1] ?? '')
    const innerStart = match.index + match[0].indexOf('>') + 1
    const controls = controlsOf(match[2] ?? '', html, innerStart)
    const rawAction = attributes.get('action')?.trim()
    let action: string
    try {
      action = new URL(rawAction === undefined || rawAction === '' ? pageUrl : rawAction, rawAction ? base : pageUrl).toString()
    } catch {
      action = pageUrl
    }
    const entries: Array<[string, string]> = controls.filter((control) => control.successful).map((control) => [control.name, control.value])
    forms.push({
      index: forms.length,
      ...(attributes.has('id') ? { id: attributes.get('id') } : {}),
      ...(attributes.has('name') ? { name: attributes.get('name') } : {}),
      method: (attributes.get('method') ?? 'get').toLowerCase() === 'post' ? 'POST' : 'GET',
      action,
      enctype: (attributes.get('enctype') ?? 'application/x-www-form-urlencoded').toLowerCase(),
      attributes,
      controls,
      fields: Object.fromEntries(entries),
      entries
    })
    if (match[0].length === 0) pattern.lastIndex++
  }
  return forms
}

/**
 * The form that the page submits by itself, if any: one whose <form> tag
 * says so (data-auto-submit / data-autosubmit), or one that a script or the
 * body's onload submits (form.submit() / requestSubmit()), found by id,
 * name, document.forms[i] or, failing those, the first form.
 */
export function findAutoSubmitForm (html: string, pageUrl: string): HtmlForm | undefined {
  const forms = parseForms(html, pageUrl)
  if (forms.length === 0) return undefined
  const flagged = forms.find((form) => form.attributes.has('data-auto-submit') || form.attributes.has('data-autosubmit'))
  if (flagged) return flagged
  const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script\s*>/gi)].map((script) => script[1] ?? '')
  const onload = /<body\b([^>]*)>/i.exec(blankInertKeepingTags(html))
  const handler = onload ? parseAttributes(onload[1] ?? '').get('onload') : undefined
  if (handler) scripts.push(handler)
  for (const code of scripts) {
    if (!/\.(?:submit|requestSubmit)\s*\(/.test(code)) continue
    const byId = /getElementById\(\s*['"]([^'"]+)['"]\s*\)/.exec(code)?.[1] ??
      /querySelector\(\s*['"]#([\w-]+)['"]\s*\)/.exec(code)?.[1]
    if (byId !== undefined) {
      const form = forms.find((f) => f.id === byId)
      if (form) return form
    }
    const byIndex = /document\.forms\[\s*(\d+)\s*\]/.exec(code)?.[1]
    if (byIndex !== undefined && forms[Number(byIndex)]) return forms[Number(byIndex)]
    const byName = /document\.forms\[\s*['"]([^'"]+)['"]\s*\]|document\.forms\.([A-Za-z_$][\w$]*)/.exec(code)
    const name = byName?.[1] ?? byName?.[2]
    if (name !== undefined) {
      const form = forms.find((f) => f.name === name || f.id === name)
      if (form) return form
    }
    return forms[0]
  }
  return undefined
}

function blankInertKeepingTags (html: string): string {
  return html.replace(/<!--[\s\S]*?(?:-->|$)/g, (text) => text.replace(/[^\n]/g, ' '))
}

/**
 * A page's meta refresh (outside a comment), as a browser without scripts
 * would follow it; <noscript> ones count, since this client runs no scripts.
 */
export function metaRefresh (html: string, pageUrl: string): { delaySeconds: number, url: string } | undefined {
  const inert = blankInertKeepingTags(html).replace(/<script\b[^>]*>[\s\S]*?<\/script\s*>/gi, (text) => text.replace(/[^\n]/g, ' '))
  for (const tag of inert.matchAll(/<meta\b([^>]*)>/gi)) {
    const attributes = parseAttributes(tag[1] ?? '')
    if ((attributes.get('http-equiv') ?? '').toLowerCase() !== 'refresh') continue
    const parsed = parseRefresh(attributes.get('content') ?? '', pageUrl)
    if (parsed) return parsed
  }
  return undefined
}

/** The value of a Refresh header or meta content: "5" or "0; url=/next". */
export function parseRefresh (content: string, pageUrl: string): { delaySeconds: number, url: string } | undefined {
  const match = /^\s*(\d+(?:\.\d*)?)\s*(?:[;,]\s*(?:url\s*=\s*)?(['"]?)(.*?)\2\s*)?$/i.exec(content)
  if (!match) return undefined
  try {
    return { delaySeconds: Number(match[1]), url: new URL(match[3] ? match[3] : pageUrl, pageUrl).toString() }
  } catch {
    return undefined
  }
}

/** The text of a page's <title>, decoded. */
export function pageTitle (html: string): string | undefined {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html)
  return match ? decodeEntities(match[1] ?? '').replace(/\s+/g, ' ').trim() : undefined
}
