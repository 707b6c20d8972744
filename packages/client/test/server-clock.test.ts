import assert from 'node:assert/strict'
import { test } from 'node:test'
import { measureToken, parseHTTPDate, timeToken, type Receipt } from '../src/server-clock.js'
import { makeToken } from './helpers/jwt.js'

/** A whole second of local time, as an example "now". */
const T = Date.UTC(2026, 5, 1, 12, 0, 0)
const httpDate = (ms: number): string => new Date(ms).toUTCString()

/**
 * The receipt of an answer sent at local `sentAt`, received `rtt` ms later, from a server whose
 * clock is `skew` ms ahead, which wrote its Date `at` ms after the request left.
 */
function receipt(sentAt: number, rtt: number, skew: number, at = rtt / 2): Receipt {
  return { date: httpDate(sentAt + at + skew), sentAt, receivedAt: sentAt + rtt }
}

/** A token the server signed at its time `issued` ms, living `seconds`; `iat` as given. */
function token(issued: number, seconds: number, iat = Math.floor(issued / 1000)): string {
  return makeToken({ iat, exp: Math.floor(issued / 1000) + seconds })
}

test('parseHTTPDate: IMF-fixdate only; garbage, impossible dates and other forms are null', () => {
  assert.equal(parseHTTPDate('Mon, 01 Jun 2026 12:00:00 GMT'), T)
  assert.equal(parseHTTPDate(' Mon, 01 Jun 2026 12:00:07 GMT '), T + 7000)
  for (const value of [
    null,
    undefined,
    '',
    'yesterday',
    '1', // Date.parse reads this as the year 2001
    '1780315200',
    'Mon, 31 Feb 2026 12:00:00 GMT',
    'Mon, 01 Jun 2026 25:00:00 GMT',
    'Mon, 01 Foo 2026 12:00:00 GMT',
    'Mon, 01 Jun 2026 12:00:00 +0200',
    '2026-06-01T12:00:00Z',
    'Monday, 01-Jun-26 12:00:00 GMT',
  ]) {
    assert.equal(parseHTTPDate(value), null, String(value))
  }
})

test('measureToken: baton-style token, clocks agree: no skew, lifetime from receipt to exp', () => {
  const sentAt = T + 200
  const access = token(sentAt + 30, 300)
  const clock = measureToken(access, receipt(sentAt, 60, 0))
  // Date's second [T, T+1 s) written within [sentAt, sentAt+60]: the skew lies in
  // [-260, +800] ms; 0 is inside, so the client trusts its own clock.
  assert.equal(clock.skew, 0)
  assert.equal(clock.lifetime, T + 300_000 - (sentAt + 60))
  assert.deepEqual(timeToken(access, clock.skew, clock.lifetime), {
    expiresAt: T + 300_000,
    margin: 60_000,
  })
})

test('measureToken: simplejwt-style token whose iat is an hour old: expiry and lifetime from exp', () => {
  const sentAt = T + 400
  // simplejwt copies the refresh token's iat into the refreshed access token.
  const access = token(sentAt + 10, 5, Math.floor(T / 1000) - 3600)
  const clock = measureToken(access, receipt(sentAt, 20, 0))
  assert.equal(clock.skew, 0, 'an old iat says nothing about the clock')
  assert.equal(clock.lifetime, 5000 - 420)
  const timing = timeToken(access, clock.skew, clock.lifetime)
  assert.equal(timing.expiresAt, T + 5000)
  assert.equal(timing.margin, (5000 - 420) / 4, 'a quarter of the 5 s lifetime, not of 3605 s')
  // What exp − iat would have given: a margin capped at 60 s, i.e. always due.
  assert.equal(timeToken(access, 0).margin, 60_000)
})

test('measureToken: server clock minutes ahead or behind: the midpoint, within half a second', () => {
  for (const skew of [7 * 60_000 + 123, -(5 * 60_000 + 877), 90_000, -90_000]) {
    for (const [rtt, at] of [
      [0, 0],
      [80, 10],
      [80, 75],
      [400, 200],
    ] as const) {
      const sentAt = T + 321
      const access = token(sentAt + at + skew, 300)
      const clock = measureToken(access, receipt(sentAt, rtt, skew, at))
      const bound = 500 + rtt / 2
      assert.ok(Math.abs(clock.skew - skew) <= bound, `skew ${skew} rtt ${rtt}: got ${clock.skew}`)
      const { expiresAt } = timeToken(access, clock.skew, clock.lifetime)
      const truth = Math.floor((sentAt + at + skew) / 1000) * 1000 + 300_000 - skew
      assert.ok(Math.abs((expiresAt ?? 0) - truth) <= bound)
    }
  }
})

test('measureToken: an offset within the uncertainty is not corrected', () => {
  // 300 ms ahead: Date alone cannot tell that from 0.
  const sentAt = T + 100
  const clock = measureToken(token(sentAt + 350, 300), receipt(sentAt, 100, 300))
  assert.equal(clock.skew, 0)
})

test('measureToken: no Date (missing, garbage, hidden by CORS): iat at login, the earlier skew on refresh', () => {
  const sentAt = T + 250
  for (const date of [null, 'garbage', 'Mon, 31 Feb 2026 12:00:00 GMT']) {
    // A login: iat is the issue time on every server; the late end of its second.
    const login = measureToken(token(sentAt + 10 + 60_000, 300), {
      date,
      sentAt,
      receivedAt: sentAt + 20,
    })
    assert.equal(login.skew, T + 60_000 + 999 - (sentAt + 20))
    // A simplejwt refresh with an hour-old iat keeps the session's estimate.
    const stale = token(sentAt + 10 + 60_000, 300, Math.floor(T / 1000) - 3600)
    const refreshed = measureToken(stale, { date, sentAt, receivedAt: sentAt + 20 }, login.skew)
    assert.equal(refreshed.skew, login.skew)
    assert.ok(refreshed.lifetime !== null && refreshed.lifetime <= 300_000)
    assert.ok(refreshed.lifetime !== null && refreshed.lifetime > 298_000)
  }
})

test('measureToken: a Date that contradicts the token (a proxy with another clock) is ignored', () => {
  const sentAt = T + 250
  const access = token(sentAt + 5, 300)
  // Epoch, or a year ahead: the token says the server's clock is now, within [iat, exp).
  for (const date of [httpDate(0), httpDate(T + 365 * 86_400_000)]) {
    const clock = measureToken(access, { date, sentAt, receivedAt: sentAt + 10 })
    assert.equal(clock.skew, T + 999 - (sentAt + 10), date)
    assert.ok(clock.lifetime !== null && clock.lifetime > 299_000)
  }
})

test('measureToken: a token without exp has no lifetime; without iat and Date no skew', () => {
  assert.deepEqual(measureToken(makeToken({}), { date: null, sentAt: T, receivedAt: T }), {
    skew: 0,
    lifetime: null,
  })
  assert.deepEqual(measureToken('opaque', receipt(T, 10, 0)), { skew: 0, lifetime: null })
  const noIat = measureToken(makeToken({ exp: T / 1000 + 40 }), receipt(T, 0, 0))
  assert.deepEqual(noIat, { skew: 0, lifetime: 40_000 })
  assert.deepEqual(timeToken(makeToken({ exp: T / 1000 + 40 }), 0, noIat.lifetime), {
    expiresAt: T + 40_000,
    margin: 10_000,
  })
})

test('timeToken: margin is a quarter of the lifetime, at most 60 s; exp moved by the skew', () => {
  const fiveMinutes = makeToken({ iat: 1000, exp: 1300 })
  assert.deepEqual(timeToken(fiveMinutes, 0, 300_000), { expiresAt: 1_300_000, margin: 60_000 })
  assert.deepEqual(timeToken(fiveMinutes, 10_000, 300_000), {
    expiresAt: 1_290_000,
    margin: 60_000,
  })
  assert.deepEqual(timeToken(makeToken({ iat: 1000, exp: 1040 }), 0, 40_000), {
    expiresAt: 1_040_000,
    margin: 10_000,
  })
  // A record from an older client has no lifetime: exp − iat, as it used.
  assert.deepEqual(timeToken(makeToken({ iat: 1000, exp: 1040 }), 0), {
    expiresAt: 1_040_000,
    margin: 10_000,
  })
  // Neither: lifetime unknown, no proactive margin.
  assert.deepEqual(timeToken(makeToken({ exp: 1040 }), 0), { expiresAt: 1_040_000, margin: 0 })
  assert.deepEqual(timeToken('opaque', 0), { expiresAt: null, margin: 0 })
})
