/**
 * How long to wait before the next refresh attempt while refresh is failing (SPEC §6:
 * "backoff with jitter honouring Retry-After, at most 30 s between attempts").
 */

/**
 * The longest wait between two refresh attempts, in milliseconds: 8 s, well under SPEC §6's 30 s.
 * A refresh answered 503 (or lost to a network error) may still have rotated on the server (a
 * paused Redis runs the queued script when it wakes; an instance can die after committing), and
 * the old token then answers the same successor only inside the server's grace window (15 s by
 * default). The chaos run (issue 15) saw honest users logged out with `token_reused` when their
 * next attempt came 16–30 s after the store came back; with at most 8 s between attempts the
 * retry lands inside the window. A degraded client costs one request per 4–8 s, answered by the
 * server's open circuit in microseconds.
 */
export const MAX_BACKOFF_MS = 8_000

/** The base of the exponential backoff, in milliseconds. */
export const INITIAL_BACKOFF_MS = 1_000

/**
 * For this long after an outage's first failed refresh, attempts come at most
 * {@link GRACE_RETRY_MAX_MS} apart (unless `Retry-After` asks for more). The refresh that failed
 * may have rotated on the server, and only a retry inside the server's 15 s grace window gets
 * its successor. The 30-minute chaos run of 2026-12-07 saw 8 honest users logged out with
 * `token_reused`: each had a rotation commit behind a 503, then four or five retries (1.6, 1.6,
 * 3.4, 6.1 s apart) that all met one of the run's dense faults, while the store answered
 * others in between (so the server's outage credit stayed short). More tries inside the window
 * give each a chance to land between faults; the open circuit answers them in microseconds.
 */
export const GRACE_RETRY_WINDOW_MS = 13_000

/** The longest wait between attempts inside {@link GRACE_RETRY_WINDOW_MS}, in milliseconds. */
export const GRACE_RETRY_MAX_MS = 2_000

/** Inputs of {@link backoffDelay}. */
export interface BackoffInput {
  /** 0 for the first failure of an outage, then 1, 2, … */
  attempt: number
  /** The server's `Retry-After`, in seconds, when it sent one. */
  retryAfter?: number | undefined
  /** A source of randomness in [0, 1); `Math.random` by default. */
  random?: () => number
  /** Milliseconds since the outage's first failure; inside {@link GRACE_RETRY_WINDOW_MS} the cap is {@link GRACE_RETRY_MAX_MS}. */
  sinceMs?: number | undefined
}

/**
 * The delay before the next attempt, in milliseconds: exponential from 1 s with "equal jitter"
 * (half fixed, half random), capped at {@link GRACE_RETRY_MAX_MS} for the outage's first
 * {@link GRACE_RETRY_WINDOW_MS}, never less than `Retry-After` (plus up to 20 % jitter, so tabs
 * and clients told the same `Retry-After` do not all come back in the same instant), and
 * never more than {@link MAX_BACKOFF_MS}.
 */
export function backoffDelay(input: BackoffInput): number {
  const random = input.random ?? Math.random
  const inGrace = input.sinceMs !== undefined && input.sinceMs < GRACE_RETRY_WINDOW_MS
  const exponential = Math.min(inGrace ? GRACE_RETRY_MAX_MS : MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** Math.max(0, input.attempt))
  const jittered = exponential / 2 + (random() * exponential) / 2
  const floor = input.retryAfter !== undefined && input.retryAfter > 0 ? input.retryAfter * 1000 * (1 + 0.2 * random()) : 0
  return Math.round(Math.min(MAX_BACKOFF_MS, Math.max(floor, jittered)))
}

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into whole
 * seconds from `now`. Returns `undefined` when absent or unreadable.
 */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined
  const value = header.trim()
  if (/^\d+$/.test(value)) return Number(value)
  // An HTTP-date always names its month; this keeps Date.parse's leniency ('-3') out.
  if (!/[a-z]{3}/i.test(value)) return undefined
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - now) / 1000))
}
