/**
 * The session's states and every transition between them, as one pure function the core
 * (refresh.ts) calls for each change: the core does the I/O (storage, network, channel, events)
 * and this module alone decides what state follows.
 *
 * States (`SessionState['name']`):
 * - `anonymous`: no session; requests go out without a token. Also the state after a logout or
 *   a session end (whether the app was told is the core's `announced`, not a state).
 * - `probing`: cookie mode before any access token: the HttpOnly cookie may hold a session
 *   that only a refresh can read (a new tab).
 * - `authenticated(tokens)`: a pair held with its timing (held-tokens.ts).
 * - `degraded(under, outage)`: refresh is failing (503, network); `under` is the session
 *   underneath (kept: an outage is never a logout), `outage` the backoff (outage.ts).
 * - `refreshing(flight, during)`: the single-flight refresh runs; every caller gets `flight`;
 *   `during` is the resting state it started from, which keeps following the other events.
 *
 * Transitions on the resting states ("·" keeps the state `s`; "↺" fires `recovered`, "↺!" also
 * posts it to the other tabs; `u` is the state under an outage, `u'` that state after the same
 * event, by the columns on the left; "valid" is not expired at the event's `now`):
 *
 * | event \ from | anonymous       | probing         | auth(t0)        | degraded(u, o)           |
 * |--------------|-----------------|-----------------|-----------------|--------------------------|
 * | login(t)     | auth(t)         | auth(t)         | auth(t)         | auth(t) ↺!               |
 * | stored(t)    | auth(t)         | auth(t)         | auth(t)         | t valid: auth(t) ↺,      |
 * |              |                 |                 |                 | else degraded(auth(t),o) |
 * | stored(none) | ·               | ·               | anonymous       | degraded(u', o)          |
 * | refresh(f)   | refreshing(f,s) | refreshing(f,s) | refreshing(f,s) | refreshing(f, s)         |
 * | refreshed(t) | auth(t)         | auth(t)         | auth(t)         | auth(t) ↺!               |
 * | failed(o2)   | degraded(s,o2)  | degraded(s,o2)  | degraded(s,o2)  | degraded(u, o2)          |
 * | unprobed     | ·               | anonymous       | ·               | degraded(u', o)          |
 * | gave-up      | ·               | ·               | ·               | u                        |
 * | recovered    | ·               | ·               | ·               | u ↺                      |
 * | ended        | anonymous       | anonymous       | anonymous       | anonymous                |
 * | settled(f)   | ·               | ·               | ·               | ·                        |
 *
 * test/session-state.test.ts checks every cell.
 *
 * `refreshing(f, during)`: `refresh` joins (·); `settled(f)` returns to `during`; every other
 * event is applied to `during` by the table above (a login or a logout during a refresh does
 * not cancel it: the core's generation check drops its answer). `settled` of another flight,
 * and `settled` on a resting state, change nothing.
 */
import { isExpired, type HeldTokens } from './held-tokens.js'
import type { Outage } from './outage.js'

/** The states a session rests in between refreshes, an outage aside. */
export type BaseState =
  { readonly name: 'anonymous' } | { readonly name: 'probing' } | { readonly name: 'authenticated'; readonly tokens: HeldTokens }

/** A state with no refresh running. */
export type RestingState = BaseState | { readonly name: 'degraded'; readonly under: BaseState; readonly outage: Outage }

/** Every state of the session. */
export type SessionState =
  | RestingState
  | {
      readonly name: 'refreshing'
      readonly flight: Promise<HeldTokens | null>
      readonly during: RestingState
    }

/** What happened. */
export type SessionEvent =
  /** A login returned `tokens`. */
  | { readonly type: 'login'; readonly tokens: HeldTokens }
  /** The storage or another tab showed `tokens` (`null`: no session stored) at local `now`. */
  | { readonly type: 'stored'; readonly tokens: HeldTokens | null; readonly now: number }
  /** A refresh began. */
  | { readonly type: 'refresh'; readonly flight: Promise<HeldTokens | null> }
  /** That refresh settled, whatever its outcome. */
  | { readonly type: 'settled'; readonly flight: Promise<HeldTokens | null> }
  /** A refresh (here) returned `tokens`. */
  | { readonly type: 'refreshed'; readonly tokens: HeldTokens }
  /** A refresh failed with an outage (503, 5xx, 429, network). */
  | { readonly type: 'failed'; readonly outage: Outage }
  /** Cookie mode: a refresh with no token known was answered 401: the cookie holds none. */
  | { readonly type: 'unprobed' }
  /** A background retry found no session left to refresh. */
  | { readonly type: 'gave-up' }
  /** Another tab's refresh (or login) succeeded: the server answers again. */
  | { readonly type: 'recovered' }
  /** Logout or session end, here or in another tab. */
  | { readonly type: 'ended' }

/** How a transition ended an outage, if it did. */
export type Recovery = null | 'local' | 'broadcast'

/** The state that follows, and whether `recovered` fires (and is posted to the other tabs). */
export interface Transition {
  readonly state: SessionState
  readonly recovery: Recovery
}

/** The initial state: cookie mode may already hold a session in its cookie. */
export function initialState(mode: 'body' | 'cookie'): SessionState {
  return mode === 'cookie' ? { name: 'probing' } : { name: 'anonymous' }
}

const ANONYMOUS: BaseState = { name: 'anonymous' }

/** The base states' transitions; `failed` (which leaves them) is {@link onResting}'s. */
function onBase(state: BaseState, event: SessionEvent): BaseState {
  switch (event.type) {
    case 'login':
    case 'refreshed':
      return { name: 'authenticated', tokens: event.tokens }
    case 'stored':
      if (event.tokens !== null) return { name: 'authenticated', tokens: event.tokens }
      return state.name === 'authenticated' ? ANONYMOUS : state
    case 'unprobed':
      return state.name === 'probing' ? ANONYMOUS : state
    case 'ended':
      return ANONYMOUS
    default:
      return state
  }
}

function onResting(state: RestingState, event: SessionEvent): { state: RestingState; recovery: Recovery } {
  if (state.name !== 'degraded') {
    if (event.type === 'failed') return { state: { name: 'degraded', under: state, outage: event.outage }, recovery: null }
    return { state: onBase(state, event), recovery: null }
  }
  switch (event.type) {
    case 'login':
    case 'refreshed':
      return { state: onBase(state.under, event), recovery: 'broadcast' }
    case 'stored': {
      const under = onBase(state.under, event)
      // SPEC §6: a refresh that succeeded in another tab ends this tab's outage too.
      if (event.tokens !== null && !isExpired(event.tokens, event.now)) return { state: under, recovery: 'local' }
      return { state: { ...state, under }, recovery: null }
    }
    case 'failed':
      return { state: { ...state, outage: event.outage }, recovery: null }
    case 'unprobed':
      return { state: { ...state, under: onBase(state.under, event) }, recovery: null }
    case 'gave-up':
      return { state: state.under, recovery: null }
    case 'recovered':
      return { state: state.under, recovery: 'local' }
    case 'ended':
      return { state: ANONYMOUS, recovery: null }
    default:
      return { state, recovery: null }
  }
}

/** The transition table above. */
export function transition(state: SessionState, event: SessionEvent): Transition {
  if (state.name === 'refreshing') {
    if (event.type === 'refresh') return { state, recovery: null }
    if (event.type === 'settled') return { state: event.flight === state.flight ? state.during : state, recovery: null }
    const { state: during, recovery } = onResting(state.during, event)
    return { state: { ...state, during }, recovery }
  }
  if (event.type === 'refresh') return { state: { name: 'refreshing', flight: event.flight, during: state }, recovery: null }
  return onResting(state, event)
}

/** The resting state underneath a refresh. */
function resting(state: SessionState): RestingState {
  return state.name === 'refreshing' ? state.during : state
}

/** The pair the session holds, if any. */
export function tokensOf(state: SessionState): HeldTokens | null {
  const rest = resting(state)
  const base = rest.name === 'degraded' ? rest.under : rest
  return base.name === 'authenticated' ? base.tokens : null
}

/** The outage under way, if any. */
export function outageOf(state: SessionState): Outage | null {
  const rest = resting(state)
  return rest.name === 'degraded' ? rest.outage : null
}

/** Cookie mode, no token held: whether the cookie may still hold a session worth a refresh. */
export function mayProbe(state: SessionState): boolean {
  const rest = resting(state)
  return (rest.name === 'degraded' ? rest.under : rest).name === 'probing'
}
