import { setTimeout as sleep } from 'node:timers/promises'

/** A hub request that failed for good: a 4xx, or the last of the retries. */
export class HubError extends Error {
  constructor (message: string, readonly status?: number) {
    super(message)
    this.name = 'HubError'
  }
}

/** One event of the hub's spawn progress stream. */
export interface HubProgressEvent {
  progress?: number
  message?: string
  ready?: boolean
  failed?: boolean
  url?: string
}

export interface HubClientOptions {
  /** The hub as the broker reaches it, such as http://127.0.0.1:8000; the API is at /hub/api. */
  url: string
  token: string
  timeoutMs: number
  retries: number
  retryBaseMs: number
  /** Told of each retry, for the launch's progress and the log. */
  onRetry?: (info: { method: string, path: string, attempt: number, delayMs: number, reason: string }) => void
  /** Told of each answer (its status), or of no answer (undefined: unreachable, timed out), for metrics. */
  onReply?: (method: string, path: string, status: number | undefined) => void
}

export interface HubReply<T> {
  status: number
  data: T | undefined
}

const MAX_DELAY_MS = 30_000

/**
 * The JupyterHub REST API with the broker's token. Connection errors,
 * timeouts, 429 and 5xx are retried with exponential backoff and jitter;
 * other 4xx answers are final unless the caller expects them (`accept`).
 */
export class HubClient {
  readonly #api: string
  readonly #options: HubClientOptions

  constructor (options: HubClientOptions) {
    this.#api = `${options.url.replace(/\/+$/, '')}/hub/api`
    this.#options = options
  }

  async request<T = unknown> (
    method: string,
    path: string,
    options: { body?: unknown, accept?: number[], signal?: AbortSignal } = {}
  ): Promise<HubReply<T>> {
    const { retries, retryBaseMs, timeoutMs } = this.#options
    let lastReason = ''
    for (let attempt = 0; attempt <= retries; attempt++) {
      options.signal?.throwIfAborted()
      let retryable: string
      try {
        const signals = [AbortSignal.timeout(timeoutMs)]
        if (options.signal) signals.push(options.signal)
        const response = await fetch(this.#api + path, {
          method,
          headers: {
            authorization: `token ${this.#options.token}`,
            accept: 'application/json',
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' })
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.any(signals)
        })
        this.#options.onReply?.(method, path, response.status)
        const text = await response.text()
        const data = parseJson(text)
        if (response.ok || options.accept?.includes(response.status)) {
          return { status: response.status, data: data as T | undefined }
        }
        const message = hubMessage(data, text) ?? response.statusText
        if (response.status < 500 && response.status !== 429) {
          throw new HubError(`The hub refused ${method} ${path} (${response.status}): ${message}`, response.status)
        }
        retryable = `${response.status} ${message}`
      } catch (err) {
        if (err instanceof HubError) throw err
        options.signal?.throwIfAborted()
        retryable = describe(err)
        this.#options.onReply?.(method, path, undefined)
      }
      lastReason = retryable
      if (attempt < retries) {
        const delayMs = Math.min(MAX_DELAY_MS, retryBaseMs * 2 ** attempt) * (0.5 + Math.random())
        this.#options.onRetry?.({ method, path, attempt: attempt + 1, delayMs, reason: retryable })
        await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : {})
      }
    }
    throw new HubError(`The hub did not answer ${method} ${path} after ${retries + 1} tries: ${lastReason}`)
  }

  /**
   * The spawn progress stream (text/event-stream) of a server; yields each
   * event, and ends when the hub closes the stream. Connection errors throw.
   */
  async * progress (path: string, signal: AbortSignal): AsyncGenerator<HubProgressEvent> {
    const response = await fetch(this.#api + path, {
      headers: { authorization: `token ${this.#options.token}`, accept: 'text/event-stream' },
      signal
    })
    this.#options.onReply?.('GET', path, response.status)
    if (!response.ok || response.body === null) {
      const text = await response.text().catch(() => '')
      throw new HubError(`The hub refused the progress stream (${response.status}): ${hubMessage(parseJson(text), text) ?? response.statusText}`, response.status)
    }
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n')
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n')
        if (data === '') continue
        const event = parseJson(data)
        if (event !== undefined && typeof event === 'object' && event !== null) yield event as HubProgressEvent
      }
    }
  }
}

function parseJson (text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function hubMessage (data: unknown, text: string): string | undefined {
  if (data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string') {
    return (data as { message: string }).message
  }
  const trimmed = text.trim()
  return trimmed === '' ? undefined : trimmed.slice(0, 300)
}

function describe (err: unknown): string {
  const error = err as Error & { cause?: { code?: string, message?: string } }
  if (error.name === 'TimeoutError') return 'no answer in time'
  return error.cause?.code ?? error.cause?.message ?? error.message
}
