import type { ErrorCode } from '@baton/client'

/**
 * Every error the HTTP API can answer: SPEC §1's table, plus three codes SPEC leaves unnamed
 * (`csrf_failed` for cookie mode's CSRF check, `request_header_fields_too_large` for 431,
 * `login_busy` for a login storm's overflow).
 * `test/error-catalogue.test.ts` checks this against SPEC §1 both ways.
 */
export const ERRORS = {
  bad_request: { status: 400, detail: 'Malformed request.' },
  token_not_valid: { status: 401, detail: 'Token is invalid or expired.' },
  token_revoked: { status: 401, detail: 'Token has been revoked.' },
  token_reused: { status: 401, detail: 'Refresh token was already used; session revoked.' },
  invalid_credentials: {
    status: 401,
    detail: 'No active account found with the given credentials.',
  },
  csrf_failed: { status: 403, detail: 'CSRF check failed.' },
  not_found: { status: 404, detail: 'Not found.' },
  username_taken: { status: 409, detail: 'A user with that username already exists.' },
  payload_too_large: { status: 413, detail: 'Request body is too large.' },
  unsupported_media_type: { status: 415, detail: 'Request body must be JSON.' },
  rate_limited: { status: 429, detail: 'Too many failed attempts; retry later.' },
  request_header_fields_too_large: { status: 431, detail: 'Request headers are too large.' },
  internal_error: { status: 500, detail: 'Internal error.' },
  store_unavailable: { status: 503, detail: 'Session store unavailable; retry shortly.' },
  // Issue 15: more logins at once than the password checks can serve (limits/login-queue.ts).
  login_busy: { status: 503, detail: 'Too many logins at once; retry shortly.' },
} as const satisfies Record<ErrorCode, { status: number; detail: string }>

export interface BatonErrorOptions {
  detail?: string
  cause?: unknown
  /** Per-field messages (`bad_request`). */
  messages?: Record<string, string>
  headers?: Record<string, string>
}

/**
 * An expected failure with a stable wire code. The error handler turns it into
 * `{detail, code}` with the catalogue's status; its message never holds a token or a secret.
 */
export class BatonError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly messages: Record<string, string> | undefined
  readonly headers: Record<string, string>

  constructor(code: ErrorCode, options: BatonErrorOptions = {}) {
    super(options.detail ?? ERRORS[code].detail, { cause: options.cause })
    this.name = 'BatonError'
    this.code = code
    this.status = ERRORS[code].status
    this.messages = options.messages
    this.headers = options.headers ?? {}
  }
}

/**
 * The session store could not answer in time (down, hung, read-only, out of memory, refusing
 * auth). Thrown only by `store/guard.ts`; answered as 503 with `Retry-After`.
 */
export class StoreUnavailableError extends BatonError {
  /** Seconds a client should wait before retrying. */
  readonly retryAfter: number
  /** The store's address with any password masked, for the log line. */
  readonly address: string
  /** The store operation that failed (`rotate`, `createSession`, …). */
  readonly operation: string

  constructor(options: { operation: string; address: string; retryAfter: number; cause?: unknown }) {
    super('store_unavailable', {
      cause: options.cause,
      headers: { 'retry-after': String(options.retryAfter) },
    })
    this.name = 'StoreUnavailableError'
    this.operation = options.operation
    this.address = options.address
    this.retryAfter = options.retryAfter
  }
}

export interface ConfigProblem {
  /** The environment variable (or CLI flag) at fault. */
  variable: string
  problem: string
  fix: string
}

/** Configuration that cannot start a server: every problem found, gathered before throwing. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[]

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map((p) => `${p.variable}: ${p.problem} Fix: ${p.fix}`).join('\n'))
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** The exit code for configuration errors (sysexits.h EX_CONFIG). */
export const EXIT_CONFIG = 78
