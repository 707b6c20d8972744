/**
 * The demo's "what is happening" sentence: one plain explanation of the state the page is in, so
 * a newcomer reads what each state means instead of guessing from counters (issue 14).
 */

/** What the page knows at one instant. Times are local milliseconds since the epoch. */
export interface Situation {
  now: number
  loggedIn: boolean
  /** From polling `/readyz`. */
  store: 'up' | 'down' | 'unknown'
  /** The demo's development switch has the store off. */
  switchedOff: boolean
  /** Between the client's `degraded` and `recovered` events. */
  degraded: boolean
  /** When the client tries a refresh again, while degraded (null when unknown). */
  retryAt: number | null
  expiresAt: number | null
  /** From when the next API call refreshes first (the last quarter of the token's life). */
  refreshFrom: number | null
  lifetimeMs: number | null
  /** When the last `recovered` event came. */
  recoveredAt: number | null
  /** The session ended with `token_not_valid` after an outage: the store forgot it. */
  lostSession: boolean
}

/** How long "recovered" stays the explanation after the event. */
const RECOVERED_SHOWN_MS = 15_000

/**
 * The last quarter of the access token's life, at most its last 60 s: when the client refreshes
 * before expiry (SPEC §6, client/src/refresh.ts), so the page can say when that will be.
 */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(lifetimeMs / 4, 60_000)
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.ceil(ms / 1000))} s`
}

/** Which kind of state the sentence is about (the page colours it). */
export type ExplainedState = 'lost' | 'logged-out' | 'degraded' | 'down' | 'recovered' | 'expired' | 'ok'

export function explain(s: Situation): { state: ExplainedState; text: string } {
  const [state, text] = sentence(s)
  return { state, text }
}

function sentence(s: Situation): [ExplainedState, string] {
  if (s.lostSession)
    return [
      'lost',
      'The store lost your session (no persistence): after the outage it no longer had this session, so the refresh was ' +
        'answered token_not_valid. That is data the store lost (for example a Redis restarted without persistence), not a ' +
        'logout, and baton never treats a record it cannot find as valid. Log in again.',
    ]
  if (!s.loggedIn)
    return [
      'logged-out',
      s.store === 'down'
        ? 'The session store is down, so logging in answers 503 store_unavailable (an outage, not wrong credentials). Heal the store, then log in.'
        : 'Log in, or register a new user, to start a session: an access token for API calls and a refresh token to replace it.',
    ]
  const left = s.expiresAt === null ? null : s.expiresAt - s.now
  if (s.degraded) {
    const retry = s.retryAt !== null && s.retryAt > s.now ? ` (next try in ${seconds(s.retryAt - s.now)})` : ''
    const calls =
      left !== null && left > 0
        ? `API calls still work for ${seconds(left)}: the access token needs no store.`
        : 'The access token has expired, so calls that need a fresh one are held back (not sent) until a refresh works.'
    return [
      'degraded',
      `Degraded: the session store is unavailable, so the refresh was answered 503 store_unavailable. You stay logged in: ` +
        `the client keeps its tokens and retries by itself${retry}. ${calls}`,
    ]
  }
  if (s.store === 'down')
    return [
      'down',
      `The session store is ${s.switchedOff ? 'switched off' : 'down'}. Nothing has failed yet: API calls need no store while ` +
        'the access token is valid. The next refresh will be answered 503: press "Refresh now" to see it.',
    ]
  if (s.recoveredAt !== null && s.now - s.recoveredAt < RECOVERED_SHOWN_MS)
    return ['recovered', 'Recovered: the store answers again and a refresh succeeded. Nobody was logged out, and no token was lost.']
  if (left !== null && left <= 0)
    return [
      'expired',
      'The access token has expired: the next API call refreshes it first (turn on the repeated call, or press "Refresh now").',
    ]
  const lifetime = s.lifetimeMs === null ? '' : ` lives ${seconds(s.lifetimeMs)} and`
  const when =
    s.refreshFrom === null
      ? ''
      : s.refreshFrom > s.now
        ? ` near its end, on the first API call after ${new Date(s.refreshFrom).toLocaleTimeString()} (in ${seconds(s.refreshFrom - s.now)})`
        : ' on the next API call (its last quarter, at most its last minute, has begun)'
  return [
    'ok',
    `Logged in. The access token${lifetime} is replaced by the client${when}, or at once with "Refresh now". ` +
      'Each refresh rotates the refresh token too.',
  ]
}
