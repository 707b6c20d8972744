import type { Clock } from '../clock.js'
import type { RateLimit } from '../config.js'
import type { BatonError } from '../errors.js'
import { StoreUnavailableError } from '../errors.js'
import type { SessionStore } from '../store/types.js'
import { createTTLCache } from '../ttl-cache.js'
import { addressLimitKey } from './limit-keys.js'

const SECOND = 1000
/** Idle addresses with failures under the limit remembered; past it, the oldest is forgotten. */
const MAX_COUNTING = 10_000
/**
 * Blocked addresses remembered. Only addresses that reached the limit get here, so pushing one
 * out takes MAX_BLOCKED x REFRESH_RATE_LIMIT failures in one window in this process (6 million
 * with 60/300: 20,000 failed refreshes a second for five minutes), and the one pushed out is
 * the block that began first.
 */
const MAX_BLOCKED = 100_000
/** Refreshes of one address waiting for a turn; past it, 429 (a flood, not a NAT). */
const MAX_WAITING = 1_000

export interface RefreshGateOptions {
  limit: RateLimit | null
  store: Pick<SessionStore, 'incrementCounter'>
  clock: Clock
  limited: (resetAt: number) => BatonError
}

/** A refresh given a turn ends with exactly one of `done` or `failed`, with the key `enter` answered. */
export interface RefreshGate {
  enter(ip: string | null): Promise<string | null>
  done(key: string | null): void
  failed(key: string | null): Promise<void>
}

interface AddressState {
  /** Failures of the current window the shared counter has confirmed (or counted here while it was down). */
  failures: number
  /** Failures whose shared count has not answered yet. */
  pending: number
  /** Refreshes holding a turn: each may still fail. */
  inFlight: number
  /** End of the window `failures` belongs to; 0 before the first failure. */
  resetAt: number
  waiting: { resolve: () => void; reject: (err: BatonError) => void }[]
}

/**
 * `REFRESH_RATE_LIMIT` per address (SPEC §5) without a store call on a successful refresh.
 *
 * Failures are counted in the shared store, as before; what this adds is that the budget holds
 * under concurrency (issue 11). A refresh in flight may still fail, so it holds one unit of the
 * address's remaining budget: with N failures allowed and k already counted, at most N - k
 * refreshes of one address run at once in this process, and the rest wait their turn (they are
 * not refused: a success hands its turn on at once). So 200 bad tokens sent at once from one
 * address cost at most N checks here, and the others answer 429 once the N have failed.
 *
 * The shared count is learnt from the store's answer to each failure, so several instances
 * each admit at most the budget they know of (an address bursting on K instances at once can
 * reach K x N failures before they all see the shared count, never more). A store that is down
 * still counts here, in this process.
 *
 * Longer than ~100 lines on purpose: the gate's three methods and the helpers they share all
 * work on the same three per-address maps this closure holds; split out, each would take them all.
 */
export function createRefreshGate(options: RefreshGateOptions): RefreshGate {
  const { limit, store, clock, limited } = options
  // Addresses with a refresh holding or waiting for a turn: never forgotten (their promises
  // hold the state), and bounded by the requests open at once.
  const states = new Map<string, AddressState>()
  // Idle addresses whose failures still count, kept until their window is over (twice the
  // window: a shared window started on another instance's clock may end a little later; a
  // state past its window is reset by `current` anyway). Blocked ones apart, so that a spray of
  // addresses with a failure or two can push out only its like, never a block (issue 16).
  const ttlMs = 2 * (limit?.windowSeconds ?? 0) * SECOND
  const counting = createTTLCache<string, AddressState>({ maxEntries: MAX_COUNTING, ttlMs, now: clock })
  const blocked = createTTLCache<string, AddressState>({ maxEntries: MAX_BLOCKED, ttlMs, now: clock })

  function current(state: AddressState, now: number): void {
    if (state.resetAt !== 0 && now >= state.resetAt) {
      state.failures = 0
      state.resetAt = 0
    }
  }

  /** When an address refused now may try again: its window's end, or a full window if none is known yet. */
  function retryAt(state: AddressState, windowMs: number): number {
    return state.resetAt !== 0 ? state.resetAt : clock() + windowMs
  }

  /** Hands free turns to the waiting, or refuses them all once the address's failures fill its limit. */
  function wake(key: string, state: AddressState, rule: RateLimit): void {
    current(state, clock())
    if (state.failures + state.pending >= rule.max) {
      const err = limited(retryAt(state, rule.windowSeconds * SECOND))
      for (const w of state.waiting.splice(0)) w.reject(err)
    }
    while (state.waiting.length > 0 && state.failures + state.pending + state.inFlight < rule.max) {
      state.inFlight++
      state.waiting.shift()!.resolve()
    }
    if (state.pending === 0 && state.inFlight === 0 && state.waiting.length === 0) settle(key, state, rule)
  }

  /** An address with nothing in flight: remembered while its failures count, else forgotten. */
  function settle(key: string, state: AddressState, rule: RateLimit): void {
    states.delete(key)
    if (state.failures === 0) return
    if (state.failures >= rule.max) blocked.set(key, state)
    else counting.set(key, state)
  }

  /** The address's state, taken out of the idle caches into `states` unless it is blocked. */
  function stateOf(key: string, rule: RateLimit): AddressState {
    const held = states.get(key)
    if (held !== undefined) return held
    const idle = blocked.get(key) ?? counting.get(key)
    if (idle !== undefined) {
      current(idle, clock())
      // Blocked: refused by the caller and left where it is, until its window ends.
      if (idle.failures >= rule.max) return idle
      blocked.delete(key)
      counting.delete(key)
    }
    const state = idle ?? { failures: 0, pending: 0, inFlight: 0, resetAt: 0, waiting: [] }
    states.set(key, state)
    return state
  }

  return {
    async enter(ip) {
      if (limit === null || ip === null) return null
      const key = addressLimitKey(ip)
      const state = stateOf(key, limit)
      current(state, clock())
      if (state.failures >= limit.max) throw limited(retryAt(state, limit.windowSeconds * SECOND))
      if (state.failures + state.pending + state.inFlight < limit.max) {
        state.inFlight++
        return key
      }
      if (state.waiting.length >= MAX_WAITING) throw limited(clock() + SECOND)
      const s = state
      await new Promise<void>((resolve, reject) => s.waiting.push({ resolve, reject }))
      return key
    },

    done(key) {
      if (limit === null || key === null) return
      const state = states.get(key)
      if (state === undefined) return
      state.inFlight--
      wake(key, state, limit)
    },

    async failed(key) {
      if (limit === null || key === null) return
      const state = states.get(key)
      if (state === undefined) return
      const windowMs = limit.windowSeconds * SECOND
      // Still held (as pending) while the shared count answers: never idle, so never forgotten.
      state.inFlight--
      state.pending++
      let answer: { count: number; resetAt: number | null } | null = null
      let unexpected: unknown = null
      try {
        answer = await store.incrementCounter(`refresh:ip:${key}`, windowMs, clock())
      } catch (err) {
        // Counting in the store is best effort (the refresh already failed for its own reason);
        // this process still counts it below. Even a bug wakes the waiting before it is thrown.
        if (!(err instanceof StoreUnavailableError)) unexpected = err
      }
      state.pending--
      const now = clock()
      current(state, now)
      if (answer === null || answer.resetAt === null) {
        if (state.resetAt === 0) state.resetAt = now + windowMs
        state.failures++
      } else if (answer.resetAt > state.resetAt) {
        // The shared window this failure landed in is newer than what we knew: take its count.
        state.resetAt = answer.resetAt
        state.failures = answer.count
      } else if (answer.resetAt === state.resetAt) {
        state.failures = Math.max(state.failures, answer.count)
      }
      // (An answer from an older window than ours arrived late: nothing to learn from it.)
      wake(key, state, limit)
      if (unexpected !== null) throw unexpected
    },
  }
}
