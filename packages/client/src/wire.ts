/**
 * The HTTP contract between baton's server and its clients, as types.
 * The server imports these too, so the wire format is written down once.
 */

/** Every error `code` the server can answer (SPEC §1). */
export type ErrorCode =
  | 'bad_request'
  | 'token_not_valid'
  | 'token_revoked'
  | 'token_reused'
  | 'invalid_credentials'
  | 'not_found'
  | 'username_taken'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'store_unavailable'
  | 'internal_error'
  | 'request_header_fields_too_large'
  | 'csrf_failed'
  | 'login_busy'

/** The JSON body of every error response (djangorestframework-simplejwt's shape). */
export interface ErrorBody {
  detail: string
  code: ErrorCode
  /** Per-field messages for `bad_request`. */
  messages?: Record<string, string>
  /** Present on `internal_error`; the same id is in the server's log line. */
  request_id?: string
}

/** Login and refresh answer in body mode (rotation on). */
export interface TokenPair {
  access: string
  refresh: string
}

/** Refresh with rotation off, and every token answer in cookie mode. */
export interface AccessOnly {
  access: string
}

/** One row of `GET /api/auth/sessions/`. */
export interface SessionInfo {
  id: string
  created_at: string
  last_used_at: string
  user_agent: string | null
  ip: string | null
  current: boolean
}

/** `GET /api/me/` and `POST /api/auth/register/`. */
export interface UserInfo {
  id: string
  username: string
}

/** `POST /api/auth/token/` (login). */
export interface LoginRequest {
  username: string
  password: string
}

/** `POST /api/auth/refresh/` and `POST /api/auth/logout/` in body mode (cookie mode sends `{}`). */
export interface RefreshRequest {
  refresh: string
}

/**
 * The custom header that cookie mode's refresh and logout must carry (value `1`): a
 * cross-site form cannot set it, and a cross-site `fetch` with it needs a CORS preflight the
 * server refuses.
 */
export const CSRF_HEADER = 'X-Baton-CSRF'
