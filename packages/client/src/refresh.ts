/**
 * The session's tokens and their refresh: where the tokens are read from and written to, the
 * single-flight refresh shared by every request of this client, the cross-tab lock and
 * adoption, proactive refresh before expiry, and the outage state (degraded, backoff,
 * recovered). Everything normative here is SPEC §6.
 */
import { callAuthEndpoint, stringField, toHTTPError, toInvalidResponseError } from './auth-call.js'
import { backoffDelay } from './backoff.js'
import {
  RefreshUnavailableError,
  SessionExpiredError,
  isNetworkError,
  type BatonClientError,
} from './errors.js'
import type { Emitter } from './events.js'
import { readClaims } from './jwt-exp.js'
import type { ResolvedClientOptions } from './options.js'
import { measureToken, timeToken, type Receipt, type TokenTiming } from './server-clock.js'
import type { TabMessage } from './tab-channel.js'
import { readTokens, writeTokens, type StoredTokens } from './token-storage.js'

/** A lock granted later than this (ms) was held by another tab. */
const CONTENDED_LOCK_MS = 5
/** How long a tab that waited for the lock lets the other tab's message arrive (ms). */
const MESSAGE_GRACE_MS = 30

/** The session core used by `client.fetch`, `getAccessToken` and adapters. */
export interface SessionManager {
  /** The current tokens (in body mode re-read from storage, adopting another tab's changes). */
  load(): Promise<StoredTokens | null>
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
  begin(access: string, refresh: string | null, receipt: Receipt): Promise<StoredTokens>
  /** Ends the session locally (logout) and returns the tokens it held. */
  end(): Promise<StoredTokens | null>
  /** Timing of an access token held by this session. */
  timing(tokens: StoredTokens): TokenTiming
  /** Stops timers and listeners. */
  close(): void
}

interface Outage {
  /** Local time before which no refresh is attempted. */
  until: number
  /** 0 for the first failure of the outage, then 1, 2, … */
  attempt: number
  cause: BatonClientError
}

/** Creates the session core. */
export function createSessionManager(
  options: ResolvedClientOptions,
  events: Emitter,
): SessionManager {
  const { storage, storageKey, channel, now } = options
  /** What this client last knew: in body mode a cache of storage, in cookie mode the truth. */
  let held: StoredTokens | null = null
  /** A session was announced (`tokens`) and its end (logout, session-expired) not yet. */
  let announced = false
  /** Bumped by every login, logout and session end: a refresh begun before is dropped. */
  let epoch = 0
  /** Cookie mode: whether the HttpOnly cookie may still hold a session worth a refresh. */
  let cookieMayHoldSession = options.mode === 'cookie'
  let inflight: Promise<StoredTokens> | null = null
  let outage: Outage | null = null
  let retryTimer: unknown = null
  let closed = false

  function timing(tokens: StoredTokens): TokenTiming {
    return timeToken(tokens.access, tokens.skew, tokens.lifetime)
  }

  /** A pair just received, with its clock measured (server-clock.ts). */
  function received(
    access: string,
    refresh: string | null,
    receipt: Receipt,
    previousSkew?: number,
  ): StoredTokens {
    const { skew, lifetime } = measureToken(access, receipt, previousSkew)
    return { access, refresh, skew, ...(lifetime === null ? {} : { lifetime }) }
  }

  function isExpired(tokens: StoredTokens): boolean {
    const { expiresAt } = timing(tokens)
    return expiresAt !== null && now() >= expiresAt
  }

  function isDue(tokens: StoredTokens): boolean {
    const { expiresAt, margin } = timing(tokens)
    return expiresAt !== null && now() >= expiresAt - margin
  }

  function announce(tokens: StoredTokens): void {
    announced = true
    events.emit('tokens', { access: tokens.access, expiresAt: timing(tokens).expiresAt })
  }

  /** Tokens that another tab (or an earlier page) stored: take them as ours. */
  function adopt(tokens: StoredTokens): void {
    announce(tokens)
    // SPEC §6: a refresh that succeeded in another tab ends this tab's outage too.
    if (outage !== null && !isExpired(tokens)) recover(false)
  }

  async function load(): Promise<StoredTokens | null> {
    if (storage === null) return held
    const stored = await readTokens(storage, storageKey)
    // A browser may show this tab the shared storage a moment late: never step back to an
    // earlier pair of the session this tab already holds a later pair of.
    if (stored !== null && held !== null && isLater(held, stored)) return held
    const changed = (stored?.access ?? null) !== (held?.access ?? null)
    held = stored
    if (changed && stored !== null) adopt(stored)
    return held
  }

  async function save(tokens: StoredTokens): Promise<void> {
    held = tokens
    if (storage !== null) await writeTokens(storage, storageKey, tokens)
  }

  function post(message: TabMessage): void {
    try {
      channel.post(message)
    } catch {
      // A closed or broken channel must not fail a login or a refresh; the other tabs still
      // see the storage change on their next request.
    }
  }

  function cancelRetry(): void {
    if (retryTimer !== null) options.timers.clearTimeout(retryTimer)
    retryTimer = null
  }

  function recover(broadcast: boolean): void {
    if (outage === null) return
    outage = null
    cancelRetry()
    events.emit('recovered', {})
    if (broadcast) post({ type: 'recovered' })
  }

  /** Forgets the session locally (no event). */
  async function forget(): Promise<void> {
    epoch += 1
    outage = null
    cancelRetry()
    held = null
    cookieMayHoldSession = false
    if (storage !== null) await storage.remove(storageKey)
  }

  /** SPEC §6: refresh answered 401 → tokens cleared, `session-expired`, in every tab. */
  async function expire(code: string, ended: StoredTokens): Promise<void> {
    await forget()
    post({ type: 'session-expired', code, ...aboutSession(ended) })
    if (announced) {
      announced = false
      events.emit('session-expired', { code })
    }
  }

  /**
   * SPEC §6: a refresh answered 503 or failed on the network keeps the tokens, backs off with
   * jitter honouring Retry-After, and emits `degraded` once per outage. The caller gets a
   * RefreshUnavailableError; a retry is scheduled so the outage ends (and `recovered` fires)
   * even if no request comes.
   */
  function degrade(
    cause: BatonClientError,
    retryAfter: number | undefined,
  ): RefreshUnavailableError {
    const first = outage === null
    const attempt = outage === null ? 0 : outage.attempt + 1
    const delay = backoffDelay({ attempt, retryAfter, random: options.random })
    outage = { until: now() + delay, attempt, cause }
    const seconds = Math.max(1, Math.ceil(delay / 1000))
    if (!closed) {
      cancelRetry()
      retryTimer = options.timers.setTimeout(() => {
        retryTimer = null
        void retryInBackground()
      }, delay)
    }
    if (first) events.emit('degraded', { retryAfter: seconds, cause })
    return new RefreshUnavailableError(seconds, cause)
  }

  async function retryInBackground(): Promise<void> {
    if (closed) return
    const current = await load()
    // Adopting another tab's tokens may have ended the outage already.
    if (outage === null) return
    if (current === null && !cookieMayHoldSession) {
      outage = null
      return
    }
    // The outcome (recovered, next backoff, session-expired) is handled inside refresh.
    refresh(current?.access ?? null).catch(() => {})
  }

  /** While backing off, a call that needs a fresh token is not sent (SPEC §6). */
  function unavailable(): RefreshUnavailableError | null {
    if (outage === null) return null
    const wait = outage.until - now()
    if (wait <= 0) return null
    return new RefreshUnavailableError(Math.max(1, Math.ceil(wait / 1000)), outage.cause)
  }

  /**
   * Whether `a` is a later pair of the same session than `b`: same `sid`, later `iat`. Only
   * baton's tokens carry `sid`; for others this is always false and the storage decides.
   */
  function isLater(a: StoredTokens, b: StoredTokens): boolean {
    const later = readClaims(a.access)
    const earlier = readClaims(b.access)
    return (
      later?.sid !== undefined &&
      later.sid === earlier?.sid &&
      later.iat !== undefined &&
      earlier.iat !== undefined &&
      later.iat > earlier.iat
    )
  }

  /** The `tokens` message for the other tabs (cookie mode has no refresh token to share). */
  function tokensMessage(tokens: StoredTokens): TabMessage {
    return {
      type: 'tokens',
      access: tokens.access,
      skew: tokens.skew,
      ...(tokens.lifetime === undefined ? {} : { lifetime: tokens.lifetime }),
      ...(tokens.refresh === null ? {} : { refresh: tokens.refresh }),
    }
  }

  /** The session id (`sid`) of a token pair, when its access token carries one. */
  function sessionOf(tokens: StoredTokens | null): string | undefined {
    return tokens === null ? undefined : readClaims(tokens.access)?.sid
  }

  /** The `session` field of logout and session-expired messages. */
  function aboutSession(tokens: StoredTokens | null): { session?: string } {
    const sid = sessionOf(tokens)
    return sid === undefined ? {} : { session: sid }
  }

  function ended(): SessionExpiredError {
    return new SessionExpiredError('not_authenticated')
  }

  /**
   * Single-flight: while a refresh runs, every caller gets the same promise, so N concurrent
   * 401s (from fetch calls and every attached axios instance alike) cause one refresh, and all
   * of them settle when it does (SPEC §6: none hangs).
   */
  function refresh(stale: string | null): Promise<StoredTokens> {
    if (inflight !== null) return inflight
    const requested = performance.now()
    const flight = options.lock(options.lockName, async () => {
      // The lock was held by another tab, which posted its new pair before releasing it; but
      // the lock grant and BroadcastChannel travel separately in the browser, so that message
      // may still be on its way. A short real-time pause lets it land, so this tab adopts the
      // pair instead of refreshing again (SPEC §6: one refresh per expiry across tabs). An
      // uncontended lock costs nothing.
      if (performance.now() - requested > CONTENDED_LOCK_MS)
        await new Promise((resolve) => globalThis.setTimeout(resolve, MESSAGE_GRACE_MS))
      return refreshHoldingLock(stale)
    })
    inflight = flight
    const settle = (): void => {
      if (inflight === flight) inflight = null
    }
    flight.then(settle, settle)
    return flight
  }

  async function refreshHoldingLock(stale: string | null): Promise<StoredTokens> {
    // Let the tab messages that already arrived be handled first: the tab that held the lock
    // before announced its new pair before releasing it.
    await messages
    const startEpoch = epoch
    const current = await load()
    if (epoch !== startEpoch) throw ended()
    // SPEC §6: another tab refreshed while this one waited for the lock: adopt its tokens
    // instead of presenting a refresh token that has already been replaced.
    if (current !== null && current.access !== stale && !isDue(current)) return current
    if (current === null && !cookieMayHoldSession) throw ended()
    const presented = current?.refresh ?? null
    if (options.mode === 'body' && presented === null) throw ended()

    let result
    try {
      result = await callAuthEndpoint(
        options,
        options.refreshURL,
        options.mode === 'body' ? { refresh: presented } : {},
        { csrf: true },
      )
    } catch (error) {
      if (isNetworkError(error)) throw degrade(error, undefined)
      throw error
    }
    const { response, data } = result

    if (response.ok) {
      const access = stringField(data, 'access')
      if (access === undefined) throw degrade(toInvalidResponseError(result), undefined)
      // SPEC §3.3: with rotation off the answer is {access} only: keep the refresh token.
      const refreshToken =
        options.mode === 'body' ? (stringField(data, 'refresh') ?? presented) : null
      const next = received(access, refreshToken, result.receipt, current?.skew)
      if (epoch !== startEpoch) throw ended()
      if (storage !== null) {
        const stored = await readTokens(storage, storageKey)
        // A logout in another tab while the request was in flight wins over its answer.
        if (stored === null) {
          held = null
          throw ended()
        }
        // The storage changed meanwhile, and not merely shows this tab an earlier pair late:
        // another tab refreshed without the lock (no Web Locks), or logged in anew. Keep the
        // stored pair so all tabs converge on one (the server's grace window made both valid).
        if (stored.refresh !== presented && !isLater(next, stored)) {
          held = stored
          adopt(stored)
          return stored
        }
      }
      await save(next)
      cookieMayHoldSession = true
      announce(next)
      post(tokensMessage(next))
      recover(true)
      return next
    }

    if (response.status === 401) {
      const code = stringField(data, 'code') ?? 'token_not_valid'
      if (current === null) {
        // Cookie mode, no session known to this tab: the cookie holds none. Nothing ended.
        cookieMayHoldSession = false
        throw new SessionExpiredError(code)
      }
      await expire(code, current)
      throw new SessionExpiredError(code)
    }

    const error = toHTTPError(result, now())
    // 503 (store_unavailable), other 5xx from proxies, and 429 are outages, never a logout.
    if (response.status >= 500 || response.status === 429) throw degrade(error, error.retryAfter)
    throw error
  }

  async function authorize(): Promise<string | null> {
    const current = await load()
    if (current === null) {
      if (!cookieMayHoldSession) return null
      // SPEC §6: a new tab uses the stored session; in cookie mode it is the HttpOnly cookie,
      // which only a refresh can read.
      const blocked = unavailable()
      if (blocked !== null) throw blocked
      try {
        return (await refresh(null)).access
      } catch (error) {
        if (error instanceof SessionExpiredError) return null
        throw error
      }
    }
    if (!isExpired(current)) {
      // SPEC §6: proactive refresh. The token is still valid, so the request goes out now
      // with it, and while degraded it keeps going out until the token expires.
      if (isDue(current) && inflight === null && unavailable() === null) {
        refresh(current.access).catch(() => {})
      }
      return current.access
    }
    const blocked = unavailable()
    if (blocked !== null) throw blocked
    return (await refresh(current.access)).access
  }

  async function afterUnauthorized(rejected: string): Promise<string> {
    const current = await load()
    // Replaced since the request left (a refresh here or in another tab): just retry.
    if (current !== null && current.access !== rejected && !isExpired(current))
      return current.access
    if (current === null && !cookieMayHoldSession) throw ended()
    const blocked = unavailable()
    if (blocked !== null) throw blocked
    return (await refresh(current?.access ?? null)).access
  }

  async function begin(
    access: string,
    refresh: string | null,
    receipt: Receipt,
  ): Promise<StoredTokens> {
    epoch += 1
    cookieMayHoldSession = options.mode === 'cookie'
    const tokens = received(access, refresh, receipt)
    await save(tokens)
    announce(tokens)
    post(tokensMessage(tokens))
    // A login that succeeds proves the store answers again.
    recover(true)
    return tokens
  }

  async function end(): Promise<StoredTokens | null> {
    const current = await load()
    await forget()
    post({ type: 'logout', ...aboutSession(current) })
    if (announced) {
      announced = false
      events.emit('logout', {})
    }
    return current
  }

  /** Another tab logged out or saw its session end. */
  async function endedElsewhere(
    event: Extract<TabMessage, { type: 'logout' | 'session-expired' }>,
  ): Promise<void> {
    if (storage === null) {
      // Cookie mode: every tab of the origin shares the cookie, hence the session.
      await forget()
    } else if (event.session === undefined || event.session !== sessionOf(held)) {
      // Not known to be this tab's session: the storage says whether it was shared with that
      // tab (localStorage) or is this tab's own (sessionStorage, memory).
      if ((await load()) !== null) return
      epoch += 1
      outage = null
      cancelRetry()
    } else {
      // This tab's session, by its id. A browser may show this tab the shared storage a moment
      // late, so the id is trusted over a read; the stored record is removed only if it is
      // that session's (a tab duplicated with its sessionStorage), never a newer one.
      epoch += 1
      outage = null
      cancelRetry()
      held = null
      const stored = await readTokens(storage, storageKey)
      if (stored !== null && sessionOf(stored) === event.session) await storage.remove(storageKey)
    }
    if (!announced) return
    announced = false
    if (event.type === 'logout') events.emit('logout', {})
    else events.emit('session-expired', { code: event.code })
  }

  function fromMessage(
    access: string,
    refresh: string | null,
    { skew, lifetime }: { skew?: number; lifetime?: number },
  ): StoredTokens {
    return { access, refresh, skew: skew ?? 0, ...(lifetime === undefined ? {} : { lifetime }) }
  }

  async function onMessage(message: TabMessage): Promise<void> {
    if (closed) return
    switch (message.type) {
      case 'tokens':
        // Another tab's login or refresh succeeded: the server answers again (SPEC §6:
        // `recovered` when a refresh succeeds in any tab), even if its session is not ours.
        if (storage !== null) {
          const sent =
            message.access !== undefined && message.refresh !== undefined
              ? fromMessage(message.access, message.refresh, message)
              : null
          // A later pair of this tab's own session: take it now, even if the storage still
          // shows this tab the earlier one. Anything else is judged by the storage.
          if (sent !== null && held !== null && isLater(sent, held)) {
            held = sent
            adopt(sent)
          } else {
            await load()
          }
        } else if (message.access !== undefined && message.access !== held?.access) {
          // Cookie mode: the tabs share the cookie, so the access token is ours too.
          held = fromMessage(message.access, null, message)
          cookieMayHoldSession = true
          adopt(held)
        }
        recover(false)
        return
      case 'logout':
      case 'session-expired':
        await endedElsewhere(message)
        return
      case 'recovered':
        recover(false)
        return
    }
  }

  // Messages are handled one after another, in the order they came: handling `tokens` reads
  // the storage (async), and a `recovered` right behind it must not overtake it.
  let messages = Promise.resolve()
  const unsubscribe = channel.subscribe((message) => {
    messages = messages.then(() => onMessage(message)).catch(() => {})
  })

  return {
    load,
    authorize,
    afterUnauthorized,
    begin,
    end,
    timing,
    close() {
      closed = true
      cancelRetry()
      unsubscribe()
    },
  }
}
