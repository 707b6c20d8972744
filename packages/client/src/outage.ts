/**
 * The outage side of the session (SPEC §6): a refresh answered 503 (or 5xx, 429) or lost on the
 * network keeps the tokens and backs off with jitter honouring Retry-After; while backing off,
 * a call that needs a fresh token is refused without being sent; a retry timer ends the outage
 * even if no request comes. The delays are backoff.ts's; this module keeps the record of one
 * outage and its timer.
 */
import { backoffDelay } from './backoff.js'
import { RefreshUnavailableError, type BatonClientError } from './errors.js'
import type { Timers } from './options.js'

/** One outage, from the first failed refresh to the next success. */
export interface Outage {
  /** Local time before which no refresh is attempted. */
  readonly until: number
  /** 0 for the first failure of the outage, then 1, 2, … */
  readonly attempt: number
  /** Local time of the outage's first failure (the grace window's retries count from it). */
  readonly since: number
  /** The error of the latest failure. */
  readonly cause: BatonClientError
}

/** What one more failed refresh does to the outage. */
export interface OutageStep {
  readonly outage: Outage
  /** Milliseconds until the next attempt. */
  readonly delay: number
  /** The same, in whole seconds (at least 1): the error's and the `degraded` event's figure. */
  readonly seconds: number
  /** Whether this failure began the outage (`degraded` fires once per outage). */
  readonly first: boolean
}

/** The outage after one more failure; `previous` is the current outage, if any. */
export function nextOutage(
  previous: Outage | null,
  cause: BatonClientError,
  retryAfter: number | undefined,
  now: number,
  random: () => number,
): OutageStep {
  const attempt = previous === null ? 0 : previous.attempt + 1
  const since = previous === null ? now : previous.since
  const delay = backoffDelay({ attempt, retryAfter, random, sinceMs: now - since })
  return {
    outage: { until: now + delay, attempt, since, cause },
    delay,
    seconds: toSeconds(delay),
    first: previous === null,
  }
}

/** While backing off, the error a call that needs a fresh token gets; `null` when it may try. */
export function blockedBy(outage: Outage | null, now: number): RefreshUnavailableError | null {
  if (outage === null) return null
  const wait = outage.until - now
  if (wait <= 0) return null
  return new RefreshUnavailableError(toSeconds(wait), outage.cause)
}

function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/** The one pending background retry of an outage. */
export interface RetryTimer {
  /** Replaces any pending retry with `run` after `delay` ms. */
  schedule(delay: number, run: () => void): void
  /** Cancels the pending retry, if any. */
  cancel(): void
  /** Whether a retry is pending. */
  readonly pending: boolean
}

/** A {@link RetryTimer} on the client's (injectable) timers. */
export function createRetryTimer(timers: Timers): RetryTimer {
  let handle: unknown = null
  return {
    schedule(delay, run) {
      this.cancel()
      handle = timers.setTimeout(() => {
        handle = null
        run()
      }, delay)
    },
    cancel() {
      if (handle !== null) timers.clearTimeout(handle)
      handle = null
    },
    get pending() {
      return handle !== null
    },
  }
}
