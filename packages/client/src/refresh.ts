/**
 * The session core (SPEC §6): the single-flight refresh shared by every request of this client,
 * the storage it reads and writes, and the events the app hears. What state follows what is
 * session-state.ts's table; the outage and its backoff are outage.ts's; what the other tabs are
 * told and what their messages ask is tab-sync.ts's. This module does the I/O in between.
 *
 * The storage is read once per refresh before the request (under the refresh lock, so another
 * tab's new pair is seen) and once after the answer, before writing: a logout in another tab, or
 * a pair another tab stored without the lock, must win over this answer. TokenStorage has no
 * compare-and-set, so that second read cannot go.
 */
import { RefreshUnavailableError, SessionExpiredError, type BatonClientError } from './errors.js'
import type { Emitter } from './events.js'
import {
  holdTokens,
  isDue,
  isExpired,
  isLater,
  receiveTokens,
  type HeldTokens,
} from './held-tokens.js'
import type { ResolvedClientOptions } from './options.js'
import { blockedBy, createRetryTimer, nextOutage } from './outage.js'
import { callRefresh } from './refresh-call.js'
import type { Receipt } from './server-clock.js'
import {
  initialState,
  mayProbe,
  outageOf,
  tokensOf,
  transition,
  type SessionEvent,
  type SessionState,
} from './session-state.js'
import type { TabMessage } from './tab-channel.js'
import {
  aboutSession,
  createTabSync,
  onEndedMessage,
  onTokensMessage,
  tokensMessage,
} from './tab-sync.js'
import { readTokens, writeTokens } from './token-storage.js'

/** A lock granted later than this (ms) was held by another tab. */
const CONTENDED_LOCK_MS = 5
/** How long a tab that waited for the lock lets the other tab's message arrive (ms). */
const MESSAGE_GRACE_MS = 30

/** The session core used by `client.fetch`, `getAccessToken` and adapters. */
export interface SessionManager {
  /**
   * The access token to attach to a request: valid now, refreshed first if it has expired,
   * or `null` when there is no session (send the request without one).
   */
  authorize(): Promise<string | null>
  /**
   * After a 401 to a request sent with `rejected`: the token to retry with (refreshing once,
   * single-flight).
   */
  afterUnauthorized(rejected: string): Promise<string>
  /** Starts a session with tokens a login returned. */
  begin(access: string, refresh: string | null, receipt: Receipt): Promise<HeldTokens>
  /** Ends the session locally (logout) and returns the tokens it held. */
  end(): Promise<HeldTokens | null>
  /** The current state (for tests and debugging). */
  readonly state: SessionState
  /** Stops timers and listeners. */
  close(): void
}

/**
 * A refresh's first caller may have skipped its own storage read: this decides, on the read the
 * refresh makes under the lock, whether the pair found there is good enough to use as is.
 */
type Reuse = (current: HeldTokens) => boolean

/** Creates the session core. */
export function createSessionManager(
  options: ResolvedClientOptions,
  events: Emitter,
): SessionManager {
  const { storage, storageKey, now } = options
  let state = initialState(options.mode)
  /** A session was announced (`tokens`) and its end (logout, session-expired) not yet. */
  let announced = false
  /** The session's generation, bumped by every login and end: a refresh begun before is dropped. */
  let epoch = 0
  /** `close()` was called: no more timers, no more messages. */
  let closed = false
  const retry = createRetryTimer(options.timers)
  const tabs = createTabSync(options.channel, onMessage)

  /** Moves to the state the table gives; `recovered` fires (and is posted) when it says so. */
  function apply(event: SessionEvent): () => void {
    const { state: next, recovery } = transition(state, event)
    state = next
    if (outageOf(state) === null) retry.cancel()
    // Returned, not fired: the caller fires it after its own `tokens` event, in SPEC order.
    return () => {
      if (recovery === null) return
      events.emit('recovered', {})
      if (recovery === 'broadcast') tabs.post({ type: 'recovered' })
    }
  }

  function announce(tokens: HeldTokens): void {
    announced = true
    events.emit('tokens', { access: tokens.access, expiresAt: tokens.expiresAt })
  }

  /** Tokens that another tab (or an earlier page) stored: take them as ours. */
  function adopt(tokens: HeldTokens): void {
    const recovered = apply({ type: 'stored', tokens, now: now() })
    announce(tokens)
    recovered()
  }

  /** The current tokens; in body mode read from the storage, adopting another tab's changes. */
  async function load(): Promise<HeldTokens | null> {
    if (storage === null) return tokensOf(state)
    const stored = await readTokens(storage, storageKey)
    const held = tokensOf(state)
    if (stored === null) {
      if (held !== null) apply({ type: 'stored', tokens: null, now: now() })()
      return null
    }
    if (held !== null && held.access === stored.access) return held
    const found = holdTokens(stored)
    // A browser may show this tab the shared storage a moment late: never step back to an
    // earlier pair of the session this tab already holds a later pair of.
    if (held !== null && isLater(held, found)) return held
    adopt(found)
    return found
  }

  /** Forgets the session locally (no event). */
  async function forget(): Promise<void> {
    epoch += 1
    apply({ type: 'ended' })
    if (storage !== null) await storage.remove(storageKey)
  }

  /** SPEC §6: refresh answered 401 → tokens cleared, `session-expired`, in every tab. */
  async function expire(code: string, ended: HeldTokens): Promise<void> {
    await forget()
    tabs.post({ type: 'session-expired', code, ...aboutSession(ended) })
    if (announced) {
      announced = false
      events.emit('session-expired', { code })
    }
  }

  /**
   * SPEC §6: an outage keeps the tokens, backs off, and emits `degraded` once per outage. The
   * caller gets a RefreshUnavailableError; a retry is scheduled so the outage ends (and
   * `recovered` fires) even if no request comes.
   */
  function degrade(
    cause: BatonClientError,
    retryAfter: number | undefined,
  ): RefreshUnavailableError {
    const step = nextOutage(outageOf(state), cause, retryAfter, now(), options.random)
    apply({ type: 'failed', outage: step.outage })
    if (!closed) retry.schedule(step.delay, () => void retryInBackground())
    if (step.first) events.emit('degraded', { retryAfter: step.seconds, cause })
    return new RefreshUnavailableError(step.seconds, cause)
  }

  async function retryInBackground(): Promise<void> {
    if (closed) return
    const current = await load()
    // Adopting another tab's tokens may have ended the outage already.
    if (outageOf(state) === null) return
    if (current === null && !mayProbe(state)) {
      apply({ type: 'gave-up' })
      return
    }
    // The outcome (recovered, next backoff, session-expired) is handled inside refresh.
    refresh(current?.access ?? null).catch(() => {})
  }

  function blocked(): RefreshUnavailableError | null {
    return blockedBy(outageOf(state), now())
  }

  /**
   * Single-flight: while a refresh runs, every caller gets the same promise, so N concurrent
   * 401s (from fetch calls and every attached axios instance alike) cause one refresh, and all
   * of them settle when it does (SPEC §6: none hangs). Resolves `null` when the storage holds
   * no session to refresh.
   */
  function refresh(stale: string | null, reuse?: Reuse): Promise<HeldTokens | null> {
    if (state.name === 'refreshing') return state.flight
    const requested = performance.now()
    const flight = options.lock(options.lockName, async () => {
      // The lock was held by another tab, which posted its new pair before releasing it; but
      // the lock grant and BroadcastChannel travel separately in the browser, so that message
      // may still be on its way. A short real-time pause lets it land, so this tab adopts the
      // pair instead of refreshing again (SPEC §6: one refresh per expiry across tabs). An
      // uncontended lock costs nothing.
      if (performance.now() - requested > CONTENDED_LOCK_MS)
        await new Promise((resolve) => globalThis.setTimeout(resolve, MESSAGE_GRACE_MS))
      return refreshHoldingLock(stale, reuse)
    })
    apply({ type: 'refresh', flight })
    const settle = (): void => void apply({ type: 'settled', flight })
    flight.then(settle, settle)
    return flight
  }

  async function refreshHoldingLock(
    stale: string | null,
    reuse?: Reuse,
  ): Promise<HeldTokens | null> {
    // Let the tab messages that already arrived be handled first: the tab that held the lock
    // before announced its new pair before releasing it.
    await tabs.drained()
    const startEpoch = epoch
    const current = await load()
    if (epoch !== startEpoch) throw ended()
    if (current === null) {
      if (!mayProbe(state)) return null
    } else if (
      reuse === undefined ? current.access !== stale && !isDue(current, now()) : reuse(current)
    ) {
      // SPEC §6: another tab refreshed while this one waited for the lock: adopt its tokens
      // instead of presenting a refresh token that has already been replaced.
      return current
    }
    const presented = current?.stored.refresh ?? null
    if (options.mode === 'body' && presented === null) throw ended()

    const outcome = await callRefresh(options, presented)
    switch (outcome.kind) {
      case 'outage':
        throw degrade(outcome.error, outcome.retryAfter)
      case 'failed':
        throw outcome.error
      case 'rejected':
        if (current === null) {
          // Cookie mode, no session known to this tab: the cookie holds none. Nothing ended.
          apply({ type: 'unprobed' })
        } else {
          await expire(outcome.code, current)
        }
        throw new SessionExpiredError(outcome.code)
      case 'tokens': {
        const { access, refresh, receipt } = outcome
        const next = receiveTokens(access, refresh, receipt, current?.stored.skew)
        if (epoch !== startEpoch) throw ended()
        return accept(next, presented)
      }
    }
  }

  /** Takes a refresh's new pair, unless the storage changed under it while it was in flight. */
  async function accept(next: HeldTokens, presented: string | null): Promise<HeldTokens> {
    if (storage !== null) {
      const stored = await readTokens(storage, storageKey)
      // A logout in another tab while the request was in flight wins over its answer.
      if (stored === null) {
        apply({ type: 'stored', tokens: null, now: now() })()
        throw ended()
      }
      // The storage changed meanwhile, and not merely shows this tab an earlier pair late:
      // another tab refreshed without the lock (no Web Locks), or logged in anew. Keep the
      // stored pair so all tabs converge on one (the server's grace window made both valid).
      if (stored.refresh !== presented) {
        const other = holdTokens(stored)
        if (!isLater(next, other)) {
          adopt(other)
          return other
        }
      }
    }
    const recovered = apply({ type: 'refreshed', tokens: next })
    if (storage !== null) await writeTokens(storage, storageKey, next.stored)
    announce(next)
    tabs.post(tokensMessage(next))
    recovered()
    return next
  }

  /** The token for a pair that is still valid; a due one is refreshed in the background. */
  function use(current: HeldTokens): string {
    // SPEC §6: proactive refresh. The token is still valid, so the request goes out now with
    // it, and while degraded it keeps going out until the token expires.
    if (isDue(current, now()) && state.name !== 'refreshing' && blocked() === null) {
      refresh(current.access).catch(() => {})
    }
    return current.access
  }

  async function authorize(): Promise<string | null> {
    const known = tokensOf(state)
    if (storage !== null && known !== null && isExpired(known, now()) && blocked() === null) {
      // Expired: the refresh's own read of the storage (under the lock) stands in for this
      // call's, and a valid pair found there (another tab's) is used as is.
      const fresh = await refresh(known.access, (current) => !isExpired(current, now()))
      return fresh === null ? null : use(fresh)
    }
    const current = await load()
    if (current === null) {
      if (!mayProbe(state)) return null
      // SPEC §6: a new tab uses the stored session; in cookie mode it is the HttpOnly cookie,
      // which only a refresh can read.
      const refused = blocked()
      if (refused !== null) throw refused
      try {
        return (await refresh(null))?.access ?? null
      } catch (error) {
        if (error instanceof SessionExpiredError) return null
        throw error
      }
    }
    if (!isExpired(current, now())) return use(current)
    const refused = blocked()
    if (refused !== null) throw refused
    const fresh = await refresh(current.access)
    if (fresh === null) throw ended()
    return fresh.access
  }

  async function afterUnauthorized(rejected: string): Promise<string> {
    // Replaced since the request left (a refresh here or in another tab): just retry.
    const replaced: Reuse = (current) => current.access !== rejected && !isExpired(current, now())
    if (blocked() === null) {
      // The refresh reads the storage itself (under the lock): no read of this call's first.
      const fresh = await refresh(tokensOf(state)?.access ?? null, replaced)
      if (fresh === null) throw ended()
      return fresh.access
    }
    // Backing off: only another tab's pair, seen in the storage, can help.
    const current = await load()
    if (current !== null && replaced(current)) return current.access
    if (current === null && !mayProbe(state)) throw ended()
    const refused = blocked()
    if (refused !== null) throw refused
    const fresh = await refresh(current?.access ?? null)
    if (fresh === null) throw ended()
    return fresh.access
  }

  async function begin(
    access: string,
    refresh: string | null,
    receipt: Receipt,
  ): Promise<HeldTokens> {
    epoch += 1
    const tokens = receiveTokens(access, refresh, receipt)
    // A login that succeeds proves the store answers again.
    const recovered = apply({ type: 'login', tokens })
    if (storage !== null) await writeTokens(storage, storageKey, tokens.stored)
    announce(tokens)
    tabs.post(tokensMessage(tokens))
    recovered()
    return tokens
  }

  async function end(): Promise<HeldTokens | null> {
    const current = await load()
    await forget()
    tabs.post({ type: 'logout', ...aboutSession(current) })
    if (announced) {
      announced = false
      events.emit('logout', {})
    }
    return current
  }

  /** Another tab logged out or saw its session end. */
  async function endedElsewhere(
    message: Extract<TabMessage, { type: 'logout' | 'session-expired' }>,
  ): Promise<void> {
    switch (onEndedMessage(message, tokensOf(state), storage !== null)) {
      case 'forget':
        await forget()
        break
      case 'if-storage-empty':
        if ((await load()) !== null) return
        epoch += 1
        apply({ type: 'ended' })
        break
      case 'own-session': {
        epoch += 1
        apply({ type: 'ended' })
        // Never a newer session's record (a tab duplicated with its sessionStorage).
        const stored = storage === null ? null : await readTokens(storage, storageKey)
        if (stored !== null && holdTokens(stored).sid === message.session)
          await storage?.remove(storageKey)
        break
      }
    }
    if (!announced) return
    announced = false
    if (message.type === 'logout') events.emit('logout', {})
    else events.emit('session-expired', { code: message.code })
  }

  async function onMessage(message: TabMessage): Promise<void> {
    if (closed) return
    switch (message.type) {
      case 'tokens': {
        const action = onTokensMessage(message, tokensOf(state), storage !== null)
        if (action.kind === 'adopt') adopt(action.tokens)
        else if (action.kind === 'load') await load()
        // Another tab's login or refresh succeeded: the server answers again (SPEC §6:
        // `recovered` when a refresh succeeds in any tab), even if its session is not ours.
        apply({ type: 'recovered' })()
        return
      }
      case 'logout':
      case 'session-expired':
        await endedElsewhere(message)
        return
      case 'recovered':
        apply({ type: 'recovered' })()
        return
    }
  }

  return {
    authorize,
    afterUnauthorized,
    begin,
    end,
    get state() {
      return state
    },
    close() {
      closed = true
      retry.cancel()
      tabs.close()
    },
  }
}

function ended(): SessionExpiredError {
  return new SessionExpiredError('not_authenticated')
}
