import assert from 'node:assert/strict'
import { test } from 'node:test'
import { holdTokens, isDue, isExpired, isLater, receiveTokens, tokensFromMessage } from '../src/held-tokens.js'
import { measureToken, timeToken } from '../src/server-clock.js'
import { makeToken } from './helpers/jwt.js'

const NOW = Date.UTC(2026, 0, 1)
const SECONDS = NOW / 1000

test('held tokens: the timing is timeToken’s, worked out once with the stored skew and lifetime', () => {
  const access = makeToken({ exp: SECONDS + 300, iat: SECONDS, sid: 's1' })
  for (const stored of [
    { access, refresh: 'r', skew: 0 },
    { access, refresh: 'r', skew: 2_500, lifetime: 200_000 },
    { access, refresh: null, skew: -90_000 },
  ]) {
    const held = holdTokens(stored)
    const { expiresAt, margin } = timeToken(stored.access, stored.skew, stored.lifetime)
    assert.equal(held.expiresAt, expiresAt)
    assert.equal(held.dueAt, (expiresAt ?? 0) - margin)
    assert.equal(held.stored, stored, 'the record is kept as is, nothing derived added')
    assert.equal(held.access, access)
    assert.equal(held.sid, 's1')
    assert.equal(held.iat, SECONDS)
  }
})

test('held tokens: a token without exp is never expired nor due; an opaque one neither', () => {
  for (const access of [makeToken({ iat: SECONDS }), 'opaque-token']) {
    const held = holdTokens({ access, refresh: 'r', skew: 0 })
    assert.equal(held.expiresAt, null)
    assert.equal(held.dueAt, null)
    assert.equal(isExpired(held, NOW + 10 ** 12), false)
    assert.equal(isDue(held, NOW + 10 ** 12), false)
  }
})

test('held tokens: due from the last quarter (at most 60 s), expired from exp, on the local clock', () => {
  const access = makeToken({ exp: SECONDS + 40, iat: SECONDS })
  const held = holdTokens({ access, refresh: 'r', skew: 0 })
  assert.equal(isDue(held, NOW + 29_999), false)
  assert.equal(isDue(held, NOW + 30_000), true)
  assert.equal(isExpired(held, NOW + 39_999), false)
  assert.equal(isExpired(held, NOW + 40_000), true)
  // A server clock 10 s ahead (skew +10 s): everything 10 s earlier on the local clock.
  const ahead = holdTokens({ access, refresh: 'r', skew: 10_000 })
  assert.equal(isExpired(ahead, NOW + 30_000), true)
})

test('held tokens: a received pair is measured as measureToken measures it', () => {
  const access = makeToken({ exp: SECONDS + 300, iat: SECONDS - 5 })
  const receipt = { date: new Date(NOW).toUTCString(), sentAt: NOW - 40, receivedAt: NOW + 10 }
  for (const previous of [undefined, 7_000]) {
    const held = receiveTokens(access, 'r', receipt, previous)
    const { skew, lifetime } = measureToken(access, receipt, previous)
    assert.deepEqual(held.stored, { access, refresh: 'r', skew, lifetime })
  }
  // No exp: no lifetime stored (the key is absent, as readTokens would give it back).
  const opaque = receiveTokens('opaque', null, receipt)
  assert.equal('lifetime' in opaque.stored, false)
})

test('held tokens: a pair from a message keeps the sender’s skew and lifetime', () => {
  const access = makeToken({ exp: SECONDS + 300, iat: SECONDS })
  assert.deepEqual(tokensFromMessage(access, 'r', { skew: 12, lifetime: 1_000 }).stored, {
    access,
    refresh: 'r',
    skew: 12,
    lifetime: 1_000,
  })
  assert.deepEqual(tokensFromMessage(access, null, {}).stored, { access, refresh: null, skew: 0 })
})

test('held tokens: isLater orders two pairs of one session by iat, and nothing else', () => {
  const pair = (claims: Record<string, unknown>) => holdTokens({ access: makeToken(claims), refresh: 'r', skew: 0 })
  const early = pair({ sid: 's', iat: 100 })
  const late = pair({ sid: 's', iat: 200 })
  assert.equal(isLater(late, early), true)
  assert.equal(isLater(early, late), false)
  assert.equal(isLater(late, late), false)
  assert.equal(isLater(pair({ sid: 'other', iat: 300 }), early), false, 'another session')
  assert.equal(isLater(pair({ iat: 300 }), pair({ iat: 100 })), false, 'no sid: storage decides')
  assert.equal(isLater(pair({ sid: 's' }), early), false, 'no iat')
})
