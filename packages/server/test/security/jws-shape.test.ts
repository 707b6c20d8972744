import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { hasDuplicateKeys, isCanonicalBase64url, jwsShapeProblem, parseCompactJWS } from '../../src/tokens/jws-shape.js'

const b64 = (s: string) => Buffer.from(s).toString('base64url')

test('hasDuplicateKeys: finds a repeated member at any depth, after unescaping', () => {
  assert.equal(hasDuplicateKeys('{"a":1,"b":2}'), false)
  assert.equal(hasDuplicateKeys('{"a":1,"a":2}'), true)
  assert.equal(hasDuplicateKeys('{"a":1,"\\u0061":2}'), true)
  assert.equal(hasDuplicateKeys('{"x":{"a":1,"a":2}}'), true)
  assert.equal(hasDuplicateKeys('{"x":[{"a":1},{"a":2}]}'), false)
  assert.equal(hasDuplicateKeys('{"x":{"a":1},"y":{"a":2}}'), false)
  // Strings that look like members are values, not names.
  assert.equal(hasDuplicateKeys('{"a":"a","b":"a:\\"a\\":"}'), false)
  assert.equal(hasDuplicateKeys('{ "a" : 1 , "a" : 2 }'), true)
  assert.equal(hasDuplicateKeys('["a","a"]'), false)
})

test('isCanonicalBase64url: only the spelling Buffer would write', () => {
  const s = Buffer.from([0xff, 0xfe, 0xfd, 0x01]).toString('base64url')
  assert.equal(isCanonicalBase64url(s), true)
  assert.equal(isCanonicalBase64url(`${s}==`), false)
  assert.equal(isCanonicalBase64url(s.replaceAll('_', '/').replaceAll('-', '+')), s.includes('_') || s.includes('-') ? false : true)
  assert.equal(isCanonicalBase64url('QQ'), true) // "A"
  assert.equal(isCanonicalBase64url('QR'), false) // "A" with spare bits set
  assert.equal(isCanonicalBase64url('Q'), false)
  assert.equal(isCanonicalBase64url('a b'), false)
})

test('isCanonicalBase64url: the spare-bits rule answers what decoding and re-encoding answers, for any string', () => {
  const reencodes = (s: string) =>
    /^[A-Za-z0-9_-]*$/.test(s) && s.length % 4 !== 1 && Buffer.from(s, 'base64url').toString('base64url') === s
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const b64urlChars = fc.array(fc.constantFrom(...alphabet), { maxLength: 24 }).map((cs) => cs.join(''))
  fc.assert(
    fc.property(fc.oneof(b64urlChars, fc.string({ maxLength: 12 })), (s) => isCanonicalBase64url(s) === reencodes(s)),
    { numRuns: 20_000 },
  )
  // Every last character at every length, exhaustively.
  for (const prefix of ['', 'A', 'AB', 'ABC', 'ABCD', 'ABCDE']) {
    for (const c of alphabet) assert.equal(isCanonicalBase64url(prefix + c), reencodes(prefix + c), prefix + c)
  }
})

test('parseCompactJWS: answers the header and payload it checked', () => {
  const h = b64('{"alg":"EdDSA","kid":"k"}')
  const p = b64('{"sub":"a","n":1}')
  assert.deepEqual(parseCompactJWS(`${h}.${p}.c2ln`), { problem: null, header: { alg: 'EdDSA', kid: 'k' }, payload: { sub: 'a', n: 1 } })
  assert.deepEqual(parseCompactJWS(`${h}.${b64('{"a":1,"a":1}')}.c2ln`), { problem: 'duplicate member' })
})

test('jwsShapeProblem: names what is wrong with a compact JWS before verification', () => {
  const h = b64('{"alg":"EdDSA"}')
  const p = b64('{"sub":"a"}')
  assert.equal(jwsShapeProblem(`${h}.${p}.c2ln`), null)
  assert.equal(jwsShapeProblem(`${h}.${p}`), 'not three segments')
  assert.equal(jwsShapeProblem(`${h}.${p}.`), 'empty segment')
  assert.equal(jwsShapeProblem(`${h}.${p}.c2ln=`), 'not canonical base64url')
  assert.equal(jwsShapeProblem(`${b64('nope')}.${p}.c2ln`), 'not JSON')
  assert.equal(jwsShapeProblem(`${h}.${b64('[1]')}.c2ln`), 'not a JSON object')
  assert.equal(jwsShapeProblem(`${h}.${b64('{"a":1,"a":1}')}.c2ln`), 'duplicate member')
})
