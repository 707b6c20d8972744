/**
 * The single-flight core (SPEC §6): one refresh at a time for every request of this client,
 * under the cross-tab lock, and what its answer does to the session. The state and its table
 * are session-state.ts's (held by session-holder.ts); the outage's backoff is outage.ts's; the
 * other tabs' messages are tab-sync.ts's; the request is refresh-call.ts's.
 *
 * The storage is read once before the request (under the lock, so a pair another tab stored
 * while this one waited is used instead of presenting a replaced refresh token) and once after
 * the answer, before writing: a logout in another tab, or a pair another tab stored without the
 * lock, wins over the answer. TokenStorage has no compare-and-set, so that second read stays.
 */
import { RefreshUnavailableError, SessionExpiredError, type BatonClientError } from './errors.js'
import type { Emitter } from './events.js'
import { holdTokens, isDue, isLater, receiveTokens, type HeldTokens } from './held-tokens.js'
import type { ResolvedClientOptions } from './options.js'
import { blockedBy, nextOutage } from './outage.js'
import { callRefresh } from './refresh-call.js'
import type { Receipt } from './server-clock.js'
import { SessionHolder } from './session-holder.js'
import { mayProbe, outageOf, type SessionState } from './session-state.js'
import { aboutSession, createTabSync, handleTabMessage, tokensMessage, type TabSync } from './tab-sync.js'

/** A lock granted later than this (ms) was held by another tab. */
const CONTENDED_LOCK_MS = 5
/** How long a tab that waited for the lock lets the other tab's message arrive, per step (ms). */
const MESSAGE_GRACE_MS = 30
/** …and at most, over all steps (ms). */
const MESSAGE_WAIT_MAX_MS = 300

/**
 * A refresh's first caller may have skipped its own storage read: this decides, on the read the
 * refresh makes under the lock, whether the pair found there is good enough to use as is.
 */
export type Reuse = (current: HeldTokens) => boolean

/** The error of a call that needs a session when there is none (any more). */
export function notAuthenticated(): SessionExpiredError {
  return new SessionExpiredError('not_authenticated')
}

/** The single-flight core beneath the `SessionManager` of session.ts. */
export class SessionCore {
  readonly #options: ResolvedClientOptions
  readonly #events: Emitter
  readonly #holder: SessionHolder
  readonly #tabs: TabSync
  /** `close()` was called: no more timers, no more messages. */
  #closed = false

  constructor(options: ResolvedClientOptions, events: Emitter) {
    this.#options = options
    this.#events = events
    this.#tabs = createTabSync(options.channel, async (message) => {
      if (!this.#closed) await handleTabMessage(this.#holder, message)
    })
    this.#holder = new SessionHolder(options, events, (message) => this.#tabs.post(message))
  }

  /** The current state (session-state.ts). */
  get state(): SessionState {
    return this.#holder.state
  }

  /** The current tokens; in body mode read from the storage, adopting another tab's changes. */
  load(): Promise<HeldTokens | null> {
    return this.#holder.load()
  }

  /** While backing off, the error for a call that needs a fresh token; else `null`. */
  blocked(): RefreshUnavailableError | null {
    return blockedBy(outageOf(this.state), this.#options.now())
  }

  /**
   * Single-flight: while a refresh runs, every caller gets the same promise, so N concurrent
   * 401s (from fetch calls and every attached axios instance alike) cause one refresh, and all
   * of them settle when it does (SPEC §6: none hangs). `stale` is the access token the caller
   * found wanting; a first caller that skipped its own storage read passes `reuse` instead.
   * Resolves `null` when no session is left to refresh.
   */
  refresh(stale: string | null, reuse?: Reuse): Promise<HeldTokens | null> {
    const state = this.state
    if (state.name === 'refreshing') return state.flight
    const requested = performance.now()
    const flight = this.#options.lock(this.#options.lockName, async () => {
      // The lock was held by another tab, which posted its new pair before releasing it; but
      // the lock grant and BroadcastChannel travel separately in the browser, so that message
      // may still be on its way. A short real-time pause lets it land, so this tab adopts the
      // pair instead of refreshing again (SPEC §6: one refresh per expiry across tabs). An
      // uncontended lock costs nothing.
      if (performance.now() - requested > CONTENDED_LOCK_MS) await this.#awaitOtherTab(stale, reuse)
      return this.#holdingLock(stale, reuse)
    })
    this.#holder.apply({ type: 'refresh', flight })
    const settle = (): void => void this.#holder.apply({ type: 'settled', flight })
    flight.then(settle, settle)
    return flight
  }

  /**
   * After waiting for the lock: lets the other tab's pair arrive, in steps of MESSAGE_GRACE_MS,
   * for at most MESSAGE_WAIT_MAX_MS. Under load neither its BroadcastChannel message nor its
   * localStorage write may have reached this tab 30 ms after the grant (seen in `npm test`:
   * two tabs, two refreshes). A tab whose holder refreshed stops waiting at the first step that
   * shows the new pair; one whose holder failed (an outage) waits the whole bound once.
   */
  async #awaitOtherTab(stale: string | null, reuse?: Reuse): Promise<void> {
    for (let waited = 0; waited < MESSAGE_WAIT_MAX_MS; waited += MESSAGE_GRACE_MS) {
      await new Promise((resolve) => globalThis.setTimeout(resolve, MESSAGE_GRACE_MS))
      await this.#tabs.drained()
      const current = await this.#holder.load()
      if (current === null || this.#adoptable(current, stale, reuse)) return
    }
  }

  /** Whether `current`, found under the lock, is another tab's fresh pair to use as is (SPEC §6). */
  #adoptable(current: HeldTokens, stale: string | null, reuse?: Reuse): boolean {
    return reuse?.(current) ?? (current.access !== stale && !isDue(current, this.#now()))
  }

  async #holdingLock(stale: string | null, reuse?: Reuse): Promise<HeldTokens | null> {
    const holder = this.#holder
    // Let the tab messages that already arrived be handled first: the tab that held the lock
    // before announced its new pair before releasing it.
    await this.#tabs.drained()
    const epoch = holder.epoch
    const current = await holder.load()
    if (holder.epoch !== epoch) throw notAuthenticated()
    if (current === null) {
      if (!mayProbe(holder.state)) return null
    } else if (this.#adoptable(current, stale, reuse)) {
      // SPEC §6: another tab refreshed while this one waited for the lock: adopt its tokens
      // instead of presenting a refresh token that has already been replaced.
      return current
    }
    const presented = current?.stored.refresh ?? null
    if (this.#options.mode === 'body' && presented === null) throw notAuthenticated()

    const outcome = await callRefresh(this.#options, presented)
    switch (outcome.kind) {
      case 'outage':
        throw this.#degrade(outcome.error, outcome.retryAfter)
      case 'failed':
        throw outcome.error
      case 'rejected':
        if (current === null) {
          // Cookie mode, no session known to this tab: the cookie holds none. Nothing ended.
          holder.apply({ type: 'unprobed' })
        } else {
          await this.#expire(outcome.code, current)
        }
        throw new SessionExpiredError(outcome.code)
      case 'tokens': {
        const { access, refresh, receipt } = outcome
        const next = receiveTokens(access, refresh, receipt, current?.stored.skew)
        if (holder.epoch !== epoch) throw notAuthenticated()
        return this.#accept(next, presented)
      }
    }
  }

  /**
   * Takes a refresh's new pair, unless the storage changed under it while it was in flight.
   * This is a refresh's second and last storage read (the first, under the lock, is in
   * {@link #holdingLock}): Web Storage has no compare-and-set, so a read just before the write is
   * the only way to see a logout or another tab's pair that landed during the request.
   */
  async #accept(next: HeldTokens, presented: string | null): Promise<HeldTokens> {
    const holder = this.#holder
    const stored = await holder.readStored()
    // A logout in another tab while the request was in flight wins over its answer.
    if (stored === null) {
      holder.apply({ type: 'stored', tokens: null, now: this.#now() })
      throw notAuthenticated()
    }
    // The storage changed meanwhile, and not merely shows this tab an earlier pair late:
    // another tab refreshed without the lock (no Web Locks), or logged in anew. Keep the
    // stored pair so all tabs converge on one (the server's grace window made both valid).
    if (stored !== undefined && stored.refresh !== presented) {
      const other = holdTokens(stored)
      if (!isLater(next, other)) {
        holder.adopt(other)
        return other
      }
    }
    const recovered = holder.apply({ type: 'refreshed', tokens: next })
    await holder.write(next)
    holder.announce(next)
    this.#tabs.post(tokensMessage(next))
    recovered()
    return next
  }

  /** SPEC §6: refresh answered 401 → tokens cleared, `session-expired`, in every tab. */
  async #expire(code: string, ended: HeldTokens): Promise<void> {
    await this.#holder.forget()
    this.#tabs.post({ type: 'session-expired', code, ...aboutSession(ended) })
    this.#holder.ended({ type: 'session-expired', code })
  }

  /**
   * SPEC §6: an outage keeps the tokens, backs off, and emits `degraded` once per outage. The
   * caller gets a RefreshUnavailableError; a retry is scheduled so the outage ends (and
   * `recovered` fires) even if no request comes.
   */
  #degrade(cause: BatonClientError, retryAfter: number | undefined): RefreshUnavailableError {
    const holder = this.#holder
    const { random } = this.#options
    const step = nextOutage(outageOf(holder.state), cause, retryAfter, this.#now(), random)
    holder.apply({ type: 'failed', outage: step.outage })
    if (!this.#closed) holder.retry.schedule(step.delay, () => void this.#retryInBackground())
    if (step.first) this.#events.emit('degraded', { retryAfter: step.seconds, cause })
    return new RefreshUnavailableError(step.seconds, cause)
  }

  async #retryInBackground(): Promise<void> {
    if (this.#closed) return
    const current = await this.#holder.load()
    // Adopting another tab's tokens may have ended the outage already.
    if (outageOf(this.state) === null) return
    if (current === null && !mayProbe(this.state)) {
      this.#holder.apply({ type: 'gave-up' })
      return
    }
    // The outcome (recovered, next backoff, session-expired) is handled inside the refresh.
    this.refresh(current?.access ?? null).catch(() => {})
  }

  /** Starts a session with tokens a login returned. */
  async begin(access: string, refresh: string | null, receipt: Receipt): Promise<HeldTokens> {
    const tokens = receiveTokens(access, refresh, receipt)
    // A login that succeeds proves the store answers again.
    const recovered = this.#holder.begin(tokens)
    await this.#holder.write(tokens)
    this.#holder.announce(tokens)
    this.#tabs.post(tokensMessage(tokens))
    recovered()
    return tokens
  }

  /** Ends the session locally (logout) and returns the tokens it held. */
  async end(): Promise<HeldTokens | null> {
    const current = await this.#holder.load()
    await this.#holder.forget()
    this.#tabs.post({ type: 'logout', ...aboutSession(current) })
    this.#holder.ended({ type: 'logout' })
    return current
  }

  /** Stops timers and listeners. */
  close(): void {
    this.#closed = true
    this.#holder.retry.cancel()
    this.#tabs.close()
  }

  #now(): number {
    return this.#options.now()
  }
}
