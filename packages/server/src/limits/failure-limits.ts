import type { Deps } from '../deps.js'
import { BatonError, StoreUnavailableError } from '../errors.js'
import { addressLimitKey, usernameLimitKey } from './limit-keys.js'
import { createRefreshGate } from './refresh-gate.js'

const SECOND = 1000

/** What a login holds between its reservation and the password check's answer. */
export interface LoginReservation {
  /**
   * The password was right: clears the username's failures and gives the address its attempt
   * back (SPEC §5: a user who logs in correctly is never limited, nor an office behind one
   * address by its own successes). Best effort: the session's creation needs the store anyway.
   */
  succeeded(): Promise<void>
  /** The check did not answer (the user database down): nothing was tried, nothing is charged. */
  abandoned(): Promise<void>
  // A wrong password needs no call: the reserved attempt is the counted failure.
}

/** The limits of SPEC §5 (`LOGIN_RATE_LIMIT`, `LOGIN_RATE_LIMIT_IP`, `REFRESH_RATE_LIMIT`). */
export interface FailureLimits {
  /**
   * Reserves one attempt on each login counter before the password check, or throws 429
   * (`rate_limited`, Retry-After) when a counter is past its limit, or 503 when the counter
   * store cannot be reached.
   */
  reserveLogin(username: string, ip: string | null): Promise<LoginReservation>
  /** Waits for the address's turn to refresh, or throws 429; answers the pass to give back. */
  enterRefresh(ip: string | null): Promise<string | null>
  /** The refresh ended without a failure to count (a success, or the store down). */
  refreshDone(pass: string | null): void
  /** The refresh failed (SPEC §5 counts it); waits until the shared counter has it. */
  refreshFailed(pass: string | null): Promise<void>
}

interface Held {
  key: string
  resetAt: number
  kind: 'username' | 'address'
}

const NOTHING_HELD: LoginReservation = { succeeded: async () => {}, abandoned: async () => {} }

/**
 * Failure-counting limits (SPEC §5), kept in the session store so every instance shares them.
 *
 * A login's attempt is counted BEFORE its password check, in one atomic increment per counter
 * (issue 11): checking the counter, then spending ~0.4 s of scrypt, then counting let every
 * request that started before the first failure was counted through, so 40 wrong passwords sent
 * at once were 40 checks against a limit of 10. Now the increment's answer is the admission: with
 * a limit of N, at most N checks per username (and per address) run in a window, however many
 * arrive at once. A right password clears the username's counter and releases the address's
 * reservation.
 *
 * Store down: the reservation fails, so the login answers 503 without checking the password.
 * Letting it through would make an outage an unlimited guessing window, where 401 against 503
 * tells a wrong password from a right one; and the session could not be created anyway.
 */
export function createFailureLimits(deps: Deps): FailureLimits {
  const { config, store, clock } = deps

  function limited(resetAt: number): BatonError {
    const seconds = Math.max(1, Math.ceil((resetAt - clock()) / SECOND))
    return new BatonError('rate_limited', { headers: { 'retry-after': String(seconds) } })
  }

  /** Giving back is best effort: a store that cannot take it back fails the request elsewhere. */
  async function bestEffort(run: () => Promise<void>): Promise<void> {
    try {
      await run()
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err
    }
  }

  function release(held: readonly Held[]): Promise<unknown> {
    return Promise.all(held.map((h) => bestEffort(() => store.releaseCounter(h.key, h.resetAt))))
  }

  const refresh = createRefreshGate({ limit: config.refreshRateLimit, store, clock, limited })

  return {
    async reserveLogin(username, ip) {
      const wanted: { key: string; max: number; windowMs: number; kind: Held['kind'] }[] = []
      const user = config.loginRateLimit
      const addr = config.loginRateLimitIP
      if (user !== null)
        wanted.push({
          key: `login:u:${usernameLimitKey(username)}`,
          max: user.max,
          windowMs: user.windowSeconds * SECOND,
          kind: 'username',
        })
      if (addr !== null && ip !== null)
        wanted.push({ key: `login:ip:${addressLimitKey(ip)}`, max: addr.max, windowMs: addr.windowSeconds * SECOND, kind: 'address' })
      if (wanted.length === 0) return NOTHING_HELD
      const now = clock()
      const answers = await Promise.allSettled(wanted.map((w) => store.incrementCounter(w.key, w.windowMs, now)))
      const held: Held[] = []
      let overUntil: number | null = null
      let failure: unknown = null
      for (const [i, answer] of answers.entries()) {
        const w = wanted[i]!
        if (answer.status === 'rejected') {
          failure ??= answer.reason
          continue
        }
        const resetAt = answer.value.resetAt ?? now + w.windowMs
        // Over the limit: this count stays, recording a refused attempt (the window's end does not
        // move, so it changes nothing). Within it: a reservation, given back below if unused.
        if (answer.value.count > w.max) overUntil = Math.max(overUntil ?? 0, resetAt)
        else held.push({ key: w.key, resetAt, kind: w.kind })
      }
      if (failure !== null || overUntil !== null) {
        // No check will run, so the other counter is not charged: an address already refused
        // cannot use up the budgets of the names it tries, nor a locked name its address's.
        await release(held)
        if (failure !== null) throw failure
        throw limited(overUntil ?? now)
      }
      return {
        succeeded: async () => {
          await Promise.all(
            held.map((h) => bestEffort(() => (h.kind === 'username' ? store.resetCounter(h.key) : store.releaseCounter(h.key, h.resetAt)))),
          )
        },
        abandoned: async () => {
          await release(held)
        },
      }
    },
    enterRefresh: (ip) => refresh.enter(ip),
    refreshDone: (pass) => refresh.done(pass),
    refreshFailed: (pass) => refresh.failed(pass),
  }
}
