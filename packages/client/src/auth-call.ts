/**
 * One call to one of baton's own endpoints (login, refresh, logout): JSON in, JSON out, with a
 * timeout, and failures turned into the client's typed errors. These calls go straight to the
 * platform `fetch`, so the client never intercepts its own refresh call (SPEC §6).
 */
import { parseRetryAfter } from './backoff.js'
import { HTTPError, NetworkError } from './errors.js'
import type { ResolvedClientOptions } from './options.js'
import type { Receipt } from './server-clock.js'
import { CSRF_HEADER } from './wire.js'

/** An HTTP answer from an auth endpoint, its body already parsed. */
export interface AuthCallResult {
  /** A body-less copy of the request, safe to keep in errors. */
  request: Request
  response: Response
  /** The parsed JSON body, or `undefined` when it was not JSON. */
  data: unknown
  /** When it was sent and arrived, and its `Date` header (for the clock-skew estimate). */
  receipt: Receipt
}

/** Options of {@link callAuthEndpoint}. */
export interface AuthCallOptions {
  /** Send the CSRF header (cookie mode's refresh and logout). */
  csrf: boolean
}

/**
 * POSTs `body` as JSON to `url`. Rejects with {@link NetworkError} when no answer comes (or
 * none within `options.timeout`); resolves with any HTTP answer, error statuses included.
 */
export async function callAuthEndpoint(
  options: ResolvedClientOptions,
  url: string,
  body: object,
  callOptions: AuthCallOptions,
): Promise<AuthCallResult> {
  const request = new Request(url, { method: 'POST' })
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'application/json',
  }
  const init: RequestInit = { method: 'POST', headers, body: JSON.stringify(body) }
  if (options.mode === 'cookie') {
    // The refresh token is an HttpOnly cookie: the browser must send it (SPEC §1 cookie mode).
    init.credentials = 'include'
    if (callOptions.csrf) headers[CSRF_HEADER] = '1'
  }
  const controller = new AbortController()
  init.signal = controller.signal
  const timer = options.timers.setTimeout(() => {
    controller.abort(new DOMException('The request timed out.', 'TimeoutError'))
  }, options.timeout)
  try {
    let response: Response
    let text: string
    const sentAt = options.now()
    try {
      response = await options.fetch(url, init)
      text = await response.text()
    } catch (error) {
      throw new NetworkError(request, controller.signal.aborted ? controller.signal.reason : error)
    }
    const receipt: Receipt = {
      date: response.headers.get('Date'),
      sentAt,
      receivedAt: options.now(),
    }
    return { request, response, data: parseJSON(text), receipt }
  } finally {
    options.timers.clearTimeout(timer)
  }
}

function parseJSON(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** Reads a string field of a JSON object body. */
export function stringField(data: unknown, field: string): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const value = (data as Record<string, unknown>)[field]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The {@link HTTPError} for an error answer: the body's `code` and `detail`, and `Retry-After`. */
export function toHTTPError(result: AuthCallResult, now: number): HTTPError {
  return new HTTPError({
    request: result.request,
    response: result.response,
    data: result.data,
    code: stringField(result.data, 'code') ?? 'http_error',
    detail: stringField(result.data, 'detail'),
    retryAfter: parseRetryAfter(result.response.headers.get('Retry-After'), now),
  })
}

/**
 * The {@link HTTPError} for a success answer that lacks the expected tokens (a proxy's page,
 * a misrouted path).
 */
export function toInvalidResponseError(result: AuthCallResult): HTTPError {
  return new HTTPError({
    request: result.request,
    response: result.response,
    data: result.data,
    code: 'invalid_response',
    detail: 'The answer has no access token.',
  })
}
