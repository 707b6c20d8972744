import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GRACE_RETRY_MAX_MS, GRACE_RETRY_WINDOW_MS, MAX_BACKOFF_MS, backoffDelay, parseRetryAfter } from '../src/backoff.js'

test('backoff: grows exponentially from about 1 s with jitter, capped at 8 s', () => {
  const low = (attempt: number): number => backoffDelay({ attempt, random: () => 0 })
  const high = (attempt: number): number => backoffDelay({ attempt, random: () => 0.999999 })
  assert.equal(low(0), 500)
  assert.equal(high(0), 1_000)
  assert.equal(low(3), 4_000)
  assert.equal(high(3), 8_000)
  for (let attempt = 0; attempt < 50; attempt += 1) {
    assert.ok(high(attempt) <= MAX_BACKOFF_MS)
    assert.ok(low(attempt) > 0)
  }
  assert.equal(high(20), 8_000)
})

test('backoff: never earlier than Retry-After, jittered above it, never over 8 s', () => {
  assert.equal(backoffDelay({ attempt: 0, retryAfter: 5, random: () => 0 }), 5_000)
  assert.equal(backoffDelay({ attempt: 0, retryAfter: 5, random: () => 0.5 }), 5_500)
  assert.equal(backoffDelay({ attempt: 0, retryAfter: 120, random: () => 0 }), 8_000)
  // A later attempt whose exponential delay exceeds Retry-After uses the larger one.
  assert.equal(backoffDelay({ attempt: 4, retryAfter: 1, random: () => 0 }), 4_000)
})

test('backoff: different random draws give different delays', () => {
  const draws = new Set([0.1, 0.4, 0.7, 0.9].map((r) => backoffDelay({ attempt: 2, random: () => r })))
  assert.equal(draws.size, 4)
})

test('parseRetryAfter: reads delay-seconds and HTTP-dates; ignores junk', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0)
  assert.equal(parseRetryAfter('7', now), 7)
  assert.equal(parseRetryAfter(' 0 ', now), 0)
  assert.equal(parseRetryAfter(new Date(now + 4_200).toUTCString(), now), 4)
  assert.equal(parseRetryAfter(new Date(now - 60_000).toUTCString(), now), 0)
  assert.equal(parseRetryAfter(null, now), undefined)
  assert.equal(parseRetryAfter('soon', now), undefined)
  assert.equal(parseRetryAfter('-3', now), undefined)
})

test('backoff: inside the grace window after the first failure of an outage, attempts come at most 2 s apart (Retry-After still wins)', () => {
  const at = (attempt: number, sinceMs: number, retryAfter?: number): number =>
    backoffDelay({ attempt, sinceMs, retryAfter, random: () => 0.999999 })
  for (let attempt = 1; attempt < 8; attempt++) assert.ok(at(attempt, 12_999) <= GRACE_RETRY_MAX_MS, `attempt ${attempt}`)
  // Past the window: the exponential backoff as before, up to 8 s.
  assert.equal(at(4, GRACE_RETRY_WINDOW_MS), MAX_BACKOFF_MS)
  assert.equal(at(4, 0, 5), 6_000)
  // Without the outage's age (a caller of backoffDelay alone): no window.
  assert.equal(backoffDelay({ attempt: 4, random: () => 0.999999 }), MAX_BACKOFF_MS)
})
