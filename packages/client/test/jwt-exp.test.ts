import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readClaims } from '../src/jwt-exp.js'
import { makeToken } from './helpers/jwt.js'

test('readClaims: reads exp, iat, jti and sid from a JWT payload (base64url, UTF-8)', () => {
  const token = makeToken({ exp: 1_700_000_300, iat: 1_700_000_000, jti: 'r1', sid: 's1', name: 'Zoë ✓' })
  assert.deepEqual(readClaims(token), { exp: 1_700_000_300, iat: 1_700_000_000, jti: 'r1', sid: 's1' })
})

test('readClaims: anything that is not a JWT with a JSON object payload is null', () => {
  for (const token of ['', 'opaque-token', 'a.b', 'a.!!!.c', `x.${btoa('[1,2]')}.y`, `x.${btoa('"s"')}.y`, 'a.b.c.d']) {
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
