import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readClaims } from '../src/jwt-exp.js'
import { estimateSkew, timeToken } from '../src/refresh.js'
import { makeToken } from './helpers/jwt.js'

test('readClaims: reads exp, iat, jti and sid from a JWT payload (base64url, UTF-8)', () => {
  const token = makeToken({ exp: 1_700_000_300, iat: 1_700_000_000, jti: 'r1', sid: 's1', name: 'Zoë ✓' })
  assert.deepEqual(readClaims(token), { exp: 1_700_000_300, iat: 1_700_000_000, jti: 'r1', sid: 's1' })
})

test('readClaims: anything that is not a JWT with a JSON object payload is null', () => {
  for (const token of [
    '',
    'opaque-token',
    'a.b',
    'a.!!!.c',
    `x.${btoa('[1,2]')}.y`,
    `x.${btoa('"s"')}.y`,
    'a.b.c.d',
  ]) {
    assert.equal(readClaims(token), null, token)
  }
})

test('readClaims: claims of the wrong type are undefined', () => {
  assert.deepEqual(readClaims(makeToken({ exp: '300', iat: null, sid: 7 })), {
    exp: undefined,
    iat: undefined,
    jti: undefined,
    sid: undefined,
  })
})

test('timeToken: margin is a quarter of the lifetime, at most 60 s; exp moved by the skew', () => {
  const fiveMinutes = makeToken({ iat: 1000, exp: 1300 })
  assert.deepEqual(timeToken(fiveMinutes, 0), { expiresAt: 1_300_000, margin: 60_000 })
  assert.deepEqual(timeToken(fiveMinutes, 10_000), { expiresAt: 1_290_000, margin: 60_000 })
  assert.deepEqual(timeToken(makeToken({ iat: 1000, exp: 1040 }), 0), {
    expiresAt: 1_040_000,
    margin: 10_000,
  })
  // No iat: lifetime unknown, no proactive margin.
  assert.deepEqual(timeToken(makeToken({ exp: 1040 }), 0), { expiresAt: 1_040_000, margin: 0 })
  assert.deepEqual(timeToken('opaque', 0), { expiresAt: null, margin: 0 })
})

test('estimateSkew: server clock minus local clock at receipt, taking the late end of the iat second; 0 without iat', () => {
  assert.equal(estimateSkew(makeToken({ iat: 2000 }), 1_400_000), 600_999)
  assert.equal(estimateSkew(makeToken({ iat: 1000 }), 1_600_000), -599_001)
  assert.equal(estimateSkew(makeToken({}), 1_600_000), 0)
})
