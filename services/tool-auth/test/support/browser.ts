/**
 * A small browser for end-to-end tests: real HTTP, a cookie jar keyed by
 * host (cookies are sent back to the host that set them, honouring Path),
 * and manual redirects so a test can see every hop.
 */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>()

  cookie (host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name)
  }

  async fetch (url: string, init: { method?: string, form?: Record<string, string>, headers?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url)
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers }
    const cookies = this.jar.get(target.host)
    if (cookies !== undefined && cookies.size > 0) headers.cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    let body: string | undefined
    if (init.form !== undefined) {
      body = new URLSearchParams(init.form).toString()
      headers['content-type'] = 'application/x-www-form-urlencoded'
    }
    const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const hostJar = this.jar.get(target.host) ?? new Map<string, string>()
      if (value === '' || /max-age=0/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)) hostJar.delete(name)
      else hostJar.set(name, value)
      this.jar.set(target.host, hostJar)
    }
    return response
  }
}

/** The action and hidden fields of an auto-submit form page. */
export function formOf (html: string): { action: string, fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? ''
  const fields: Record<string, string> = {}
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[match[1] as string] = match[2] as string
  return { action: action.replaceAll('&amp;', '&'), fields }
}
