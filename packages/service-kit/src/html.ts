/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml (value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** Markup that `html` must not escape again. */
export class SafeHtml {
  constructor (readonly value: string) {}
  toString (): string {
    return this.value
  }
}

/** Marks trusted markup (built by `html` or by us) as safe to insert. */
export function raw (markup: string): SafeHtml {
  return new SafeHtml(markup)
}

/**
 * A template tag that escapes every interpolated value unless it is
 * SafeHtml; arrays are joined, so nested `html` fragments compose.
 */
export function html (strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '')
  })
  return new SafeHtml(out)
}

function render (value: unknown): string {
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === false || value === null || value === undefined) return ''
  return escapeHtml(value)
}

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5 }
  body { max-width: 42rem; margin: 3rem auto; padding: 0 1rem }
  h1 { font-size: 1.4rem }
  .code { font-family: ui-monospace, monospace; font-size: .85rem; opacity: .7 }
  .hint { border-left: 3px solid #888; padding-left: .75rem }
  label { display: block; margin: .75rem 0 .25rem }
  select, input, button { font: inherit; padding: .35rem .5rem }
  button { cursor: pointer }
  table { border-collapse: collapse } td, th { text-align: left; padding: .25rem .75rem .25rem 0 }
`

export interface PageOptions {
  title: string
  body: SafeHtml
  /** Extra markup for <head>, such as a refresh meta tag. */
  head?: SafeHtml
}

/**
 * The one page layout all services share, so every screen looks the same.
 * The empty icon (data: is in the CSP's img-src) keeps browsers from asking
 * for a /favicon.ico that no service has.
 */
export function page ({ title, body, head }: PageOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>${raw(STYLE)}</style>
${head ?? ''}
</head>
<body>
${body}
</body>
</html>
`.value
}

/**
 * A page that POSTs `fields` to `action` as soon as it loads, the way OIDC
 * form_post and LTI launches move between sites; with scripts off, the
 * person presses the visible button instead.
 */
export function autoSubmitPage (options: { title: string, action: string, fields: Record<string, string>, button?: string }): string {
  const inputs = Object.entries(options.fields).map(([name, value]) =>
    html`<input type="hidden" name="${name}" value="${value}">`)
  return page({
    title: options.title,
    body: html`<form id="autosubmit" method="post" action="${options.action}">
${inputs}
<p>${options.title}…</p>
<noscript><p>Scripts are off in this browser: press the button to continue.</p></noscript>
<button type="submit">${options.button ?? 'Continue'}</button>
</form>
<script>document.getElementById('autosubmit').submit()</script>`
  })
}
