/**
 * The client's error hierarchy (ky's shape): one base class keyed by `code`, a subclass only
 * where it carries data, and an `isX()` guard for each that also compares `name`, because
 * `instanceof` fails across realms (iframes, duplicated package copies).
 */
import type { ErrorCode } from './wire.js'

/**
 * Codes the client itself assigns, next to the server's {@link ErrorCode}s:
 * `not_authenticated` (no session to use), `network_error` (no HTTP answer, or a timeout),
 * `refresh_unavailable` (a fresh token is needed while refresh is failing),
 * `invalid_response` (a success answer without the expected JSON), `http_error` (an error
 * answer without a `code` in its body).
 */
export type ClientErrorCode = 'not_authenticated' | 'network_error' | 'refresh_unavailable' | 'invalid_response' | 'http_error'

/**
 * Every `code` a {@link BatonClientError} can carry: a server code, a client code, or (from a
 * server that is not baton) any other string.
 */
export type BatonClientErrorCode = ErrorCode | ClientErrorCode | (string & {})

/** The base of every error the client raises on purpose. */
export class BatonClientError extends Error {
  /** A stable, machine-readable reason; see {@link BatonClientErrorCode}. */
  readonly code: BatonClientErrorCode

  constructor(message: string, code: BatonClientErrorCode, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BatonClientError'
    this.code = code
  }
}

/** What {@link HTTPError} is built from. */
export interface HTTPErrorInit {
  /**
   * The request, rebuilt without its body: login and refresh bodies hold a password or a
   * refresh token, which must never be reachable from an error that may be logged.
   */
  request: Request
  response: Response
  /** The parsed JSON body, when there was one. */
  data?: unknown
  cause?: unknown
}

/**
 * The server answered baton's own call (login, refresh, logout) with an error status.
 * `code` is the body's `code` (for example `invalid_credentials`), or `http_error`.
 */
export class HTTPError extends BatonClientError {
  /** The HTTP status. */
  readonly status: number
  /** The body's `detail`, when present. */
  readonly detail: string | undefined
  /** Seconds from the `Retry-After` header (429, 503), when present. */
  readonly retryAfter: number | undefined
  /** The request, without its body (see {@link HTTPErrorInit.request}). */
  readonly request: Request
  /** The response; its body has already been read into {@link HTTPError.data}. */
  readonly response: Response
  /** The parsed JSON body, when there was one. */
  readonly data: unknown

  constructor(
    init: HTTPErrorInit & {
      code: BatonClientErrorCode
      detail?: string | undefined
      retryAfter?: number | undefined
    },
  ) {
    const status = init.response.status
    super(
      `Request failed with status ${status} (${init.code}): ` + `${init.request.method} ${init.request.url}`,
      init.code,
      init.cause === undefined ? undefined : { cause: init.cause },
    )
    this.name = 'HTTPError'
    this.status = status
    this.detail = init.detail
    this.retryAfter = init.retryAfter
    this.request = init.request
    this.response = init.response
    this.data = init.data
  }
}

/**
 * baton's own call got no HTTP answer: the connection failed, or it timed out. `cause` holds
 * the platform's error.
 */
export class NetworkError extends BatonClientError {
  /** The request, without its body. */
  readonly request: Request

  constructor(request: Request, cause: unknown) {
    const reason = isTimeout(cause) ? 'timed out' : 'failed'
    super(`Request ${reason}: ${request.method} ${request.url}`, 'network_error', { cause })
    this.name = 'NetworkError'
    this.request = request
  }
}

/**
 * There is no session: the refresh was answered 401 (`code` is the server's, such as
 * `token_revoked` or `token_reused`), the user logged out (here or in another tab), or there
 * never was a session (`not_authenticated`). Log in again.
 * A 503 or a network failure during refresh never becomes this error (SPEC §6).
 */
export class SessionExpiredError extends BatonClientError {
  constructor(code: BatonClientErrorCode, options?: { cause?: unknown }) {
    super(code === 'not_authenticated' ? 'Not logged in.' : `Session ended (${code}); log in again.`, code, options)
    this.name = 'SessionExpiredError'
  }
}

/**
 * A fresh access token is needed but refresh is failing for now (503 or network error): the
 * session is kept and the client retries by itself. `retryAfter` is the number of seconds
 * until its next attempt; `cause` is the {@link HTTPError} or {@link NetworkError} seen.
 */
export class RefreshUnavailableError extends BatonClientError {
  /** Seconds until the client's next refresh attempt. */
  readonly retryAfter: number

  constructor(retryAfter: number, cause: unknown) {
    super(`Token refresh unavailable; retrying in ${retryAfter} s.`, 'refresh_unavailable', {
      cause,
    })
    this.name = 'RefreshUnavailableError'
    this.retryAfter = retryAfter
  }
}

const CLIENT_ERROR_NAMES = new Set(['BatonClientError', 'HTTPError', 'NetworkError', 'SessionExpiredError', 'RefreshUnavailableError'])

function hasName(error: unknown, name: string): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name
}

/** Whether `error` is any {@link BatonClientError} (by class, or by `name` across realms). */
export function isBatonClientError(error: unknown): error is BatonClientError {
  if (error instanceof BatonClientError) return true
  if (typeof error !== 'object' || error === null) return false
  const { name, code } = error as { name?: unknown; code?: unknown }
  return typeof name === 'string' && CLIENT_ERROR_NAMES.has(name) && typeof code === 'string'
}

/** Whether `error` is an {@link HTTPError}. */
export function isHTTPError(error: unknown): error is HTTPError {
  return error instanceof HTTPError || hasName(error, 'HTTPError')
}

/** Whether `error` is a {@link NetworkError}. */
export function isNetworkError(error: unknown): error is NetworkError {
  return error instanceof NetworkError || hasName(error, 'NetworkError')
}

/** Whether `error` is a {@link SessionExpiredError}. */
export function isSessionExpiredError(error: unknown): error is SessionExpiredError {
  return error instanceof SessionExpiredError || hasName(error, 'SessionExpiredError')
}

/** Whether `error` is a {@link RefreshUnavailableError}. */
export function isRefreshUnavailableError(error: unknown): error is RefreshUnavailableError {
  return error instanceof RefreshUnavailableError || hasName(error, 'RefreshUnavailableError')
}

function isTimeout(error: unknown): boolean {
  return hasName(error, 'TimeoutError')
}
