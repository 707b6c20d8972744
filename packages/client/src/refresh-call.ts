/**
 * The refresh request itself and what its answer means for the session (SPEC §6): new tokens,
 * the session's end (401), an outage (503, other 5xx, 429, network: never a logout), or some
 * other error for the caller.
 */
import { callAuthEndpoint, stringField, toHTTPError, toInvalidResponseError } from './auth-call.js'
import { isNetworkError, type BatonClientError, type HTTPError } from './errors.js'
import type { ResolvedClientOptions } from './options.js'
import type { Receipt } from './server-clock.js'

/** What a refresh answer means. */
export type RefreshOutcome =
  /** New tokens; `refresh` is `null` in cookie mode (the HttpOnly cookie). */
  | {
      readonly kind: 'tokens'
      readonly access: string
      readonly refresh: string | null
      readonly receipt: Receipt
    }
  /** 401: the session is over; `code` is the server's. */
  | { readonly kind: 'rejected'; readonly code: string }
  /** The server could not answer: back off (`retryAfter` in seconds, when it said). */
  | {
      readonly kind: 'outage'
      readonly error: BatonClientError
      readonly retryAfter: number | undefined
    }
  /** Any other error answer (400, 403, …): the caller's, not the session's. */
  | { readonly kind: 'failed'; readonly error: HTTPError }

/**
 * Presents `presented` (body mode; cookie mode sends the cookie and the CSRF header) and reads
 * the answer. Never rejects for a network error: that is an outage.
 */
export async function callRefresh(options: ResolvedClientOptions, presented: string | null): Promise<RefreshOutcome> {
  let result
  try {
    result = await callAuthEndpoint(options, options.refreshURL, options.mode === 'body' ? { refresh: presented } : {}, { csrf: true })
  } catch (error) {
    if (isNetworkError(error)) return { kind: 'outage', error, retryAfter: undefined }
    throw error
  }
  const { response, data } = result
  if (response.ok) {
    const access = stringField(data, 'access')
    if (access === undefined) return { kind: 'outage', error: toInvalidResponseError(result), retryAfter: undefined }
    // SPEC §3.3: with rotation off the answer is {access} only: keep the refresh token.
    const refresh = options.mode === 'body' ? (stringField(data, 'refresh') ?? presented) : null
    return { kind: 'tokens', access, refresh, receipt: result.receipt }
  }
  if (response.status === 401) return { kind: 'rejected', code: stringField(data, 'code') ?? 'token_not_valid' }
  const error = toHTTPError(result, options.now())
  // 503 (store_unavailable), other 5xx from proxies, and 429 are outages, never a logout.
  if (response.status >= 500 || response.status === 429) return { kind: 'outage', error, retryAfter: error.retryAfter }
  return { kind: 'failed', error }
}
