/**
 * The only way `baton check` talks to the service: one POST or GET to a URL the target named,
 * counted, with a timeout, never following a redirect (a redirect could lead a password
 * elsewhere), never sending a cookie. Every token seen in an answer is remembered so the
 * report can prove none of them is printed.
 */
export interface Answer {
  /** HTTP status, or 0 when no answer came (then `network` says why). */
  status: number
  headers: Headers
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown
  /** Why no answer came: an error code such as ECONNREFUSED or `timeout`, never a message that could echo input. */
  network?: string
}

export interface ProbeRequest {
  /** A JSON body, serialized here. */
  json?: unknown
  /** A raw body with its content type (the malformed-input probes). */
  raw?: { body: string; contentType: string }
  bearer?: string
}

export interface ProbeHTTP {
  post(url: URL, request: ProbeRequest): Promise<Answer>
  get(url: URL, request: ProbeRequest): Promise<Answer>
  /** Requests sent so far. */
  readonly requests: number
  /** Every token string sent or received (for the report's last-line scrub). */
  readonly secrets: ReadonlySet<string>
}

export interface ProbeHTTPOptions {
  fetch?: typeof fetch
  /** Per request. @default 10000 */
  timeoutMs?: number
  /** The password, remembered as a secret too. */
  password: string
}

/** A compact JWS: what a token looks like (the report never prints one). */
const JWS = /^[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*$/

/** Longest body read from an answer: error bodies are small; a page of HTML is not parsed. */
const MAX_ANSWER_BYTES = 64 * 1024

export function createProbeHTTP(options: ProbeHTTPOptions): ProbeHTTP {
  const doFetch = options.fetch ?? fetch
  const timeoutMs = options.timeoutMs ?? 10_000
  const secrets = new Set<string>()
  if (options.password.length >= 6) secrets.add(options.password)
  let requests = 0

  async function send(method: 'GET' | 'POST', url: URL, request: ProbeRequest): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json' }
    let body: string | undefined
    if (request.raw !== undefined) {
      headers['content-type'] = request.raw.contentType
      body = request.raw.body
    } else if (request.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(request.json)
      remember(request.json)
    }
    if (request.bearer !== undefined) {
      headers.authorization = `Bearer ${request.bearer}`
      secrets.add(request.bearer)
    }
    requests++
    try {
      const res = await doFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'manual',
        credentials: 'omit',
        signal: AbortSignal.timeout(timeoutMs),
      })
      const text = await readLimited(res)
      let json: unknown
      try {
        json = text === '' ? undefined : JSON.parse(text)
      } catch {
        json = undefined
      }
      remember(json)
      return { status: res.status, headers: res.headers, json }
    } catch (err) {
      return { status: 0, headers: new Headers(), json: undefined, network: networkCode(err) }
    }
  }

  function remember(value: unknown): void {
    if (value === null || typeof value !== 'object') return
    for (const v of Object.values(value as Record<string, unknown>)) {
      if (typeof v === 'string' && JWS.test(v)) secrets.add(v)
    }
  }

  return {
    post: (url, request) => send('POST', url, request),
    get: (url, request) => send('GET', url, request),
    get requests() {
      return requests
    },
    secrets,
  }
}

async function readLimited(res: Response): Promise<string> {
  if (res.body === null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel()
      return ''
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A short, input-free name for a failed request: the cause's code, or the error's name. */
function networkCode(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout'
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined
  const code = cause !== null && typeof cause === 'object' && 'code' in cause ? (cause as { code: unknown }).code : undefined
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code
  return 'network error'
}

/** The answer's `code` field when it is a plain identifier (anything else might echo input). */
export function codeOf(answer: Answer): string | null {
  const code = field(answer, 'code')
  return typeof code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : null
}

/** A top-level field of a JSON object answer. */
export function field(answer: Answer, name: string): unknown {
  const json = answer.json
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined
  return (json as Record<string, unknown>)[name]
}

/** A string field of the answer, or null. */
export function tokenField(answer: Answer, name: 'access' | 'refresh'): string | null {
  const v = field(answer, name)
  return typeof v === 'string' && v !== '' ? v : null
}

/** `200`, `401 token_not_valid`, `no answer (ECONNREFUSED)`: how a finding names an answer. */
export function describeAnswer(answer: Answer): string {
  if (answer.status === 0) return `no answer (${answer.network ?? 'network error'})`
  if (answer.status >= 300 && answer.status < 400) return `${answer.status} (a redirect, not followed)`
  const code = codeOf(answer)
  return code === null ? String(answer.status) : `${answer.status} ${code}`
}
