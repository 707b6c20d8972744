import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  createDummyHash,
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  MAX_USERNAME_LENGTH,
  needsRehash,
  normalizeUsername,
  readHashParams,
  validatePassword,
  validateUsername,
  verifyPassword,
} from '../../src/users/password.js'

// Cheap params (N=2^10): the format and the checks are the same, at a millisecond per hash.
const CHEAP = { ln: 10, r: 8, p: 1 }

/** Replaces the character at `index` with another base64 character. */
function flip(s: string, index: number): string {
  const c = s[index] === 'A' ? 'B' : 'A'
  return s.slice(0, index) + c + s.slice(index + 1)
}

/** The same bytes with the unused low bits of the last base64 character set. */
function nonCanonical(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const last = alphabet.indexOf(b64.slice(-1))
  const other = alphabet[last ^ 1] ?? ''
  assert.deepEqual(Buffer.from(b64.slice(0, -1) + other, 'base64'), Buffer.from(b64, 'base64'))
  return b64.slice(0, -1) + other
}

describe('password hashing', () => {
  test('hashPassword: encodes its params, a 16-byte salt and a 32-byte key', async () => {
    const hash = await hashPassword('correct horse', CHEAP)
    const m = /^scrypt\$ln=10,r=8,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(hash)
    assert.ok(m, hash)
    assert.equal(Buffer.from(m[1] ?? '', 'base64').length, 16)
    assert.equal(Buffer.from(m[2] ?? '', 'base64').length, 32)
    assert.deepEqual(readHashParams(hash), CHEAP)
  })

  test("hashPassword: the default params are OWASP's (N=2^17, r=8, p=1)", () => {
    assert.deepEqual({ ...DEFAULT_SCRYPT_PARAMS }, { ln: 17, r: 8, p: 1 })
    assert.ok(Object.isFrozen(DEFAULT_SCRYPT_PARAMS))
    // Encoding only; the CLI test (users/cli.test.ts) hashes once with the defaults.
    assert.match(createDummyHash(), /^scrypt\$ln=17,r=8,p=1\$/)
  })

  test('verifyPassword: the right password verifies, a wrong one does not', async () => {
    const hash = await hashPassword('correct horse', CHEAP)
    assert.equal(await verifyPassword('correct horse', hash), true)
    assert.equal(await verifyPassword('correct horsE', hash), false)
    assert.equal(await verifyPassword('correct horse ', hash), false)
    assert.equal(await verifyPassword('', hash), false)
  })

  test('hashPassword: the same password hashes differently each time (random salt)', async () => {
    const [a, b] = await Promise.all([hashPassword('pw', CHEAP), hashPassword('pw', CHEAP)])
    assert.notEqual(a, b)
    assert.equal(await verifyPassword('pw', a), true)
    assert.equal(await verifyPassword('pw', b), true)
  })

  test('verifyPassword: unicode passwords round-trip; composed and decomposed forms differ', async () => {
    const hash = await hashPassword('pässwörd🔑', CHEAP)
    assert.equal(await verifyPassword('pässwörd🔑', hash), true)
    assert.equal(await verifyPassword('pässwörd🔑'.normalize('NFD'), hash), false)
  })

  test('verifyPassword: a tampered hash is false, never an error', async () => {
    const hash = await hashPassword('pw', CHEAP)
    const [, , salt = '', key = ''] = hash.split('$')
    const prefix = hash.slice(0, hash.length - salt.length - key.length - 1)
    const tampered = [
      `${prefix}${flip(salt, 3)}$${key}`, // salt changed
      `${prefix}${salt}$${flip(key, 5)}`, // key changed
      hash.replace('ln=10', 'ln=11'), // params changed
      hash.replace('r=8', 'r=9'),
      hash.replace('p=1', 'p=2'),
      hash.slice(0, -4), // key truncated (its prefix is what a shorter scrypt output would be)
      `${prefix}${salt}$${nonCanonical(key)}`, // same bytes, other base64 spelling
      hash.replace('scrypt$', 'bcrypt$'),
      hash.replace('ln=10', 'ln=40'), // absurd cost: refused before any work
      hash.replace('r=8', 'r=0'),
      `${hash}$extra`,
      '',
      'not a hash',
    ]
    for (const bad of tampered) {
      assert.equal(await verifyPassword('pw', bad), false, bad)
    }
    assert.equal(needsRehash('not a hash', CHEAP), true)
  })

  test('needsRehash: true only when the stored params differ from the wanted ones', async () => {
    const hash = await hashPassword('pw', CHEAP)
    assert.equal(needsRehash(hash, CHEAP), false)
    assert.equal(needsRehash(hash, { ln: 11, r: 8, p: 1 }), true)
    assert.equal(needsRehash(hash), true)
  })

  test('hashPassword: refuses empty, over-long and lone-surrogate passwords with a RangeError', async () => {
    for (const bad of ['', 'x'.repeat(MAX_PASSWORD_LENGTH + 1), 'a\uD800b']) {
      await assert.rejects(hashPassword(bad, CHEAP), RangeError)
    }
    await assert.rejects(hashPassword('pw', { ln: 10, r: 0, p: 1 }), RangeError)
    // Over-long passwords never verify (they could never have been set).
    const hash = await hashPassword('x'.repeat(MAX_PASSWORD_LENGTH), CHEAP)
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_LENGTH), hash), true)
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_LENGTH + 1), hash), false)
  })
})

describe('password validation', () => {
  test('validatePassword: 1..1024 characters, counted as code points', () => {
    assert.equal(validatePassword('x'), null)
    assert.equal(validatePassword('x'.repeat(MAX_PASSWORD_LENGTH)), null)
    assert.equal(validatePassword('🔑'.repeat(MAX_PASSWORD_LENGTH)), null) // 2048 UTF-16 units
    assert.equal(validatePassword('  spaces are kept  '), null)
    assert.match(validatePassword('x'.repeat(MAX_PASSWORD_LENGTH + 1)) ?? '', /no more than 1024/)
    assert.match(validatePassword('🔑'.repeat(MAX_PASSWORD_LENGTH + 1)) ?? '', /no more than 1024/)
    assert.match(validatePassword('') ?? '', /blank/)
    assert.match(validatePassword(undefined) ?? '', /blank/)
    assert.match(validatePassword(12345) ?? '', /blank/)
    assert.match(validatePassword('a\uDC00') ?? '', /invalid character/)
  })
})

describe('username validation', () => {
  test("validateUsername: accepts Django's set (letters and digits of any script, @ . + - _)", () => {
    const longest = 'x'.repeat(MAX_USERNAME_LENGTH)
    for (const ok of ['alice', 'a', 'A.b@c+d-e_f', 'Zoë', '用户', 'иван', '٣٤٥', longest, '𠀀'.repeat(75)]) {
      assert.equal(validateUsername(ok), null, ok)
    }
  })

  test('validateUsername: refuses blanks, over 150 characters, spaces, other punctuation', () => {
    assert.match(validateUsername('') ?? '', /blank/)
    assert.match(validateUsername(null) ?? '', /blank/)
    assert.match(validateUsername('x'.repeat(MAX_USERNAME_LENGTH + 1)) ?? '', /no more than 150/)
    const charset = /letters, numbers, and @\/\.\/\+\/-\/_/
    for (const bad of ['a b', 'a/b', 'a:b', 'a#b', "o'brien", 'tab\t', 'new\nline', 'a\u0000', 'é😀']) {
      assert.match(validateUsername(bad) ?? '', charset, JSON.stringify(bad))
    }
  })

  test('validateUsername: refuses forms NFKC changes; normalizeUsername maps them', () => {
    // Full-width letters look like "admin" and are letters: refused unless normalized first.
    assert.match(validateUsername('ａｄｍｉｎ') ?? '', /NFKC/)
    assert.equal(normalizeUsername('ａｄｍｉｎ'), 'admin')
    assert.equal(validateUsername(normalizeUsername('ａｄｍｉｎ')), null)
    // A decomposed é is e + a combining mark: not a letter, as in Django; normalizing composes it.
    assert.notEqual(validateUsername('Zoe\u0308'), null)
    assert.equal(validateUsername(normalizeUsername('Zoe\u0308')), null)
    assert.equal(normalizeUsername('Alice'), 'Alice') // case is kept
  })
})
