/**
 * The server's clock as the client sees it: how far it is from the local clock (skew), how long
 * a freshly received access token lives, and when to refresh it (SPEC §6).
 *
 * Why not `iat` alone: simplejwt copies the refresh token's `iat` into every refreshed access
 * token (SPEC §9), so `iat` is not the issue time there. Reading it as one made the client
 * believe tokens lived up to the refresh token's age longer than they did (every expiry cost a
 * 401), and `exp − iat` grew into a lifetime whose quarter exceeded what was left.
 *
 * The estimate rests on facts that hold for any honest server:
 * - the answer's `Date` header was written while the request was in flight, i.e. between the
 *   local send and receive times, and it truncates the server's time to the second;
 * - a token's `iat` is never later than its signing (a lower bound on the skew, even when
 *   stale);
 * - a server does not issue a token that has already expired (an upper bound).
 */
import { readClaims, type TokenClaims } from './jwt-exp.js'

/** Upper bound of the proactive-refresh margin, in ms (SPEC §6: at most 60 s). */
export const MAX_REFRESH_MARGIN_MS = 60_000

/** What the client saw of one answer that carried an access token. */
export interface Receipt {
  /**
   * The answer's `Date` header; `null` when absent, or hidden by CORS (`Date` is not a
   * CORS-safelisted response header: a cross-origin page sees it only when the server lists it
   * in `Access-Control-Expose-Headers`).
   */
  date: string | null
  /** Local time at which the request was sent, in ms. */
  sentAt: number
  /** Local time at which the answer arrived, in ms. */
  receivedAt: number
}

/** The measurement kept with a token pair. */
export interface TokenClock {
  /** Estimated server clock minus local clock, in ms. */
  skew: number
  /** The access token's lifetime from its receipt to its `exp`, in ms; `null` without `exp`. */
  lifetime: number | null
}

/** When an access token expires and when it should be refreshed, on the local clock. */
export interface TokenTiming {
  /** Local time of expiry, in ms; `null` when the token carries no `exp`. */
  expiresAt: number | null
  /** Refresh once less than this many ms remain: a quarter of the lifetime, at most 60 s. */
  margin: number
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/

/**
 * Parses an HTTP `Date` (RFC 9110's IMF-fixdate, the only form a server may send) to ms since
 * the epoch; anything else is `null`. Strict on purpose: `Date.parse` reads almost any string
 * as some date, and a wrong date here would move every expiry.
 */
export function parseHTTPDate(value: string | null | undefined): number | null {
  if (typeof value !== 'string') return null
  const match = IMF_FIXDATE.exec(value.trim())
  if (match === null) return null
  const field = (index: number): number => Number(match[index])
  const [day, year, hour, minute, second] = [field(1), field(3), field(4), field(5), field(6)]
  const month = MONTHS.indexOf(match[2] ?? '')
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return null
  const time = Date.UTC(year, month, day, hour, minute, second)
  // Date.UTC rolls 31 Feb over into March: a day that does not round-trip is garbage.
  return new Date(time).getUTCDate() === day ? time : null
}

/**
 * Measures a freshly received access token: the skew and the token's lifetime.
 *
 * With a usable `Date`: the server's time when it answered lies in [Date, Date + 1 s) (the
 * header truncates), at a local time in [sentAt, receivedAt]; so the skew lies in
 * [Date − receivedAt, Date + 1 s − sentAt], narrowed by the token's own bounds
 * ([iat − receivedAt, exp − sentAt]). When 0 is in that interval the clocks agree as far as
 * can be told and the skew is 0 (the common case: no error added); otherwise it is the
 * interval's midpoint, off by at most half its width (0.5 s plus half the round trip). A `Date`
 * that contradicts the token (a proxy with another clock) is ignored.
 *
 * Without one (missing, garbage, hidden by CORS): `iat` against the receipt time, taking the
 * late end of the `iat` second (which places `exp` up to a second early, never late); and on a
 * refresh never below the session's earlier estimate `previous`, since a refreshed token's
 * `iat` may be far older than its issue (simplejwt) while a login's is fresh on every server.
 *
 * The lifetime is `exp` minus the server's time at receipt (never more than `exp − iat`), not
 * `exp − iat`, which is wrong whenever `iat` is not the issue time.
 */
export function measureToken(access: string, receipt: Receipt, previous?: number): TokenClock {
  return measureClaims(readClaims(access), receipt, previous)
}

/** {@link measureToken} for claims already decoded. */
export function measureClaims(claims: TokenClaims | null, receipt: Receipt, previous?: number): TokenClock {
  const { sentAt, receivedAt } = receipt
  const exp = claims?.exp === undefined ? undefined : claims.exp * 1000
  const iat = claims?.iat === undefined ? undefined : claims.iat * 1000
  const lower = iat === undefined ? -Infinity : iat - receivedAt
  const upper = exp === undefined ? Infinity : exp - sentAt

  let skew: number
  const date = parseHTTPDate(receipt.date)
  const low = date === null ? Infinity : Math.max(date - receivedAt, lower)
  const high = date === null ? -Infinity : Math.min(date + 1000 - sentAt, upper)
  if (low <= high) {
    skew = low <= 0 && high >= 0 ? 0 : (low + high) / 2
  } else {
    // No Date, or one the token contradicts.
    const fromIat = iat === undefined ? 0 : iat + 999 - receivedAt
    skew = previous === undefined ? fromIat : Math.max(previous, fromIat)
  }

  if (exp === undefined) return { skew, lifetime: null }
  const remaining = exp - (receivedAt + skew)
  const lifetime = iat === undefined ? remaining : Math.min(remaining, exp - iat)
  return { skew, lifetime: Math.max(0, lifetime) }
}

/**
 * Times an access token. SPEC §6: refresh when less than a quarter of the lifetime (at most
 * 60 s) remains; `skew` moves the server's `exp` onto the local clock. `lifetime` is the
 * measured one ({@link measureToken}); a record stored without it (an older client) falls back
 * to `exp − iat`, and a token with neither `iat` nor a measured lifetime gets no margin:
 * refreshing it early could repeat on every call.
 */
export function timeToken(access: string, skew: number, lifetime?: number | null): TokenTiming {
  return timeClaims(readClaims(access), skew, lifetime)
}

/** {@link timeToken} for claims already decoded (held-tokens.ts decodes each pair once). */
export function timeClaims(claims: TokenClaims | null, skew: number, lifetime?: number | null): TokenTiming {
  if (claims === null || claims.exp === undefined) return { expiresAt: null, margin: 0 }
  const life = typeof lifetime === 'number' ? lifetime : claims.iat === undefined ? 0 : (claims.exp - claims.iat) * 1000
  return {
    expiresAt: claims.exp * 1000 - skew,
    margin: Math.max(0, Math.min(life / 4, MAX_REFRESH_MARGIN_MS)),
  }
}
