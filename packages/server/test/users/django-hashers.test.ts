// Django's hash formats against Django itself: the vectors and the expected answers are made at
// test time by Debian's Django (make_password / check_password), never written down here.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createDjangoDummyHash, djangoAlgorithmOf, verifyDjangoPassword } from '../../src/users/django-hashers.js'

const run = promisify(execFile)
/** Debian's python3: the `python3` on PATH may be a pyenv without Django. */
const PYTHON = '/usr/bin/python3'

const PASSWORDS = ['correct horse', 'pässwörd-日本-🔑', 'a'.repeat(80)]

/**
 * For each hasher and password, Django's encoded hash and Django's own `check_password` answer
 * for the password and for near misses (one character more, one less, another case; for an
 * 80-byte password, the same first 72 bytes). scrypt: Django 3.2 has no ScryptPasswordHasher, so
 * its strings are Django 4's encode() over hashlib.scrypt, and the answers are its verify().
 */
const ORACLE = String.raw`
import base64, hashlib, hmac, json, sys, types
from django.conf import settings
from django.contrib.auth import hashers as h

# Cheap subclasses for the near-miss matrix (the format is the same; the cost is read from the
# string): Django's defaults cost about a second per check on a loaded 2-core machine.
cheap = types.ModuleType('cheap_hashers')
class CheapPBKDF2(h.PBKDF2PasswordHasher): iterations = 1000
class CheapPBKDF2SHA1(h.PBKDF2SHA1PasswordHasher): iterations = 1000
class CheapArgon2(h.Argon2PasswordHasher): time_cost = 1; memory_cost = 1024; parallelism = 2
class CheapBCryptSHA256(h.BCryptSHA256PasswordHasher): rounds = 4
class CheapBCrypt(h.BCryptPasswordHasher): rounds = 4
for c in [CheapPBKDF2, CheapPBKDF2SHA1, CheapArgon2, CheapBCryptSHA256, CheapBCrypt]: setattr(cheap, c.__name__, c)
sys.modules['cheap_hashers'] = cheap
settings.configure(PASSWORD_HASHERS=['cheap_hashers.' + c for c in ['CheapPBKDF2', 'CheapPBKDF2SHA1', 'CheapArgon2', 'CheapBCryptSHA256', 'CheapBCrypt']] + [
    'django.contrib.auth.hashers.MD5PasswordHasher',
    'django.contrib.auth.hashers.SHA1PasswordHasher',
    'django.contrib.auth.hashers.UnsaltedMD5PasswordHasher',
])
from django.contrib.auth.hashers import check_password, make_password
import argon2

def scrypt_encode(password, salt, n=2**14, r=8, p=1):
    # Django 4.0's ScryptPasswordHasher.encode
    d = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=64)
    return 'scrypt$%d$%s$%d$%d$%s' % (n, salt, r, p, base64.b64encode(d).decode('ascii').strip())

def scrypt_verify(password, encoded):
    _, n, salt, r, p, _d = encoded.split('$', 5)
    return hmac.compare_digest(encoded, scrypt_encode(password, salt, int(n), int(r), int(p)))

def near(pw):
    out = [pw, pw + 'x', pw[:-1], pw.swapcase()]
    if len(pw.encode()) > 72:
        out.append(pw.encode()[:72].decode() + 'different tail')
    return out

passwords = json.load(sys.stdin)
names = ['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2', 'bcrypt_sha256', 'bcrypt']
cases = []
for hasher in names:
    for pw in passwords:
        enc = make_password(pw, hasher=hasher)
        cases.append({'hasher': hasher, 'encoded': enc, 'answers': [[c, check_password(c, enc)] for c in near(pw)]})
# Django 3.2's own default costs, once each: the strings SPEC §9 quotes.
defaults = {'pbkdf2_sha256': h.PBKDF2PasswordHasher(), 'pbkdf2_sha1': h.PBKDF2SHA1PasswordHasher(), 'argon2': h.Argon2PasswordHasher(),
            'bcrypt_sha256': h.BCryptSHA256PasswordHasher(), 'bcrypt': h.BCryptPasswordHasher()}
for hasher, hh in defaults.items():
    pw = passwords[1]
    enc = hh.encode(pw, hh.salt())
    cases.append({'hasher': hasher, 'default': True, 'encoded': enc, 'answers': [[c, hh.verify(c, enc)] for c in [pw, pw + 'x']]})
# argon2i, and argon2 version 0x10, as older Django/argon2-cffi wrote them
for t, version in [(argon2.Type.I, 19), (argon2.Type.ID, 16), (argon2.Type.I, 16)]:
    pw = passwords[1]
    raw = argon2.low_level.hash_secret(pw.encode(), b'saltsaltsalt1234', time_cost=1, memory_cost=1024, parallelism=2, hash_len=32, type=t, version=version).decode()
    enc = 'argon2' + raw
    cases.append({'hasher': 'argon2', 'encoded': enc, 'answers': [[c, check_password(c, enc)] for c in near(pw)]})
for p in [1, 5]:
    for pw in passwords:
        enc = scrypt_encode(pw, 'XVsWcHalVYnsaFDw0XyQgF', p=p)
        cases.append({'hasher': 'scrypt', 'default': pw == passwords[0], 'encoded': enc, 'answers': [[c, scrypt_verify(c, enc)] for c in near(pw)]})
other = {x: make_password('pw', hasher=x) for x in ['md5', 'sha1', 'unsalted_md5']}
print(json.dumps({'cases': cases, 'unusable': make_password(None), 'other': other}))
`

interface Oracle {
  /** `default`: made with Django 3.2's default cost (the rest are cheap, same format). */
  cases: { hasher: string; default?: boolean; encoded: string; answers: [string, boolean][] }[]
  unusable: string
  other: Record<string, string>
}

let oracle: Oracle

async function django(script: string, input: string): Promise<string> {
  const child = run(PYTHON, ['-c', script], { maxBuffer: 16 << 20, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } })
  child.child.stdin?.end(input)
  return (await child).stdout
}

before(async () => {
  oracle = JSON.parse(await django(ORACLE, JSON.stringify(PASSWORDS))) as Oracle
})

describe('Django hashers', () => {
  test('verifyDjangoPassword: answers as Django check_password for every hasher, UTF-8 and 72-byte bcrypt included', async () => {
    const seen = new Set<string>()
    for (const c of oracle.cases) {
      seen.add(c.hasher)
      assert.equal(djangoAlgorithmOf(c.encoded), c.hasher)
      for (const [password, expected] of c.answers) {
        const outcome = await verifyDjangoPassword(password, c.encoded)
        assert.equal(
          outcome.kind,
          expected ? 'match' : 'mismatch',
          `${c.encoded.slice(0, 40)}… with ${JSON.stringify(password.slice(0, 20))}`,
        )
      }
    }
    assert.deepEqual([...seen].sort(), ['argon2', 'bcrypt', 'bcrypt_sha256', 'pbkdf2_sha1', 'pbkdf2_sha256', 'scrypt'])
    // The oracle itself distinguishes: bcrypt reads 72 bytes, bcrypt_sha256 the whole password.
    const long = (h: string) => oracle.cases.find((c) => c.hasher === h && c.answers[0]![0].length === 80)!.answers.at(-1)![1]
    assert.equal(long('bcrypt'), true)
    assert.equal(long('bcrypt_sha256'), false)
  })

  test('verifyDjangoPassword: the formats are the ones SPEC §9 quotes', () => {
    const first = (h: string) => oracle.cases.find((c) => c.hasher === h && c.default)!.encoded
    assert.match(first('pbkdf2_sha256'), /^pbkdf2_sha256\$260000\$[A-Za-z0-9]+\$[A-Za-z0-9+/]{43}=$/)
    assert.match(first('pbkdf2_sha1'), /^pbkdf2_sha1\$260000\$[A-Za-z0-9]+\$[A-Za-z0-9+/]{27}=$/)
    assert.match(first('argon2'), /^argon2\$argon2id\$v=19\$m=102400,t=2,p=8\$/)
    assert.match(first('bcrypt_sha256'), /^bcrypt_sha256\$\$2b\$12\$/)
    assert.match(first('bcrypt'), /^bcrypt\$\$2b\$12\$/)
    assert.ok(oracle.cases.some((c) => /^scrypt\$16384\$[^$]+\$8\$5\$[A-Za-z0-9+/]{86}==$/.test(c.encoded)))
  })

  test('verifyDjangoPassword: an unusable password (! + 40 characters) is unusable, whatever is typed', async () => {
    assert.match(oracle.unusable, /^!.{40}$/)
    assert.deepEqual(await verifyDjangoPassword('anything', oracle.unusable), { kind: 'unusable' })
    assert.deepEqual(await verifyDjangoPassword(oracle.unusable, oracle.unusable), { kind: 'unusable' })
  })

  test('verifyDjangoPassword: hashers baton does not implement are named, never matched', async () => {
    for (const [hasher, encoded] of Object.entries(oracle.other)) {
      assert.deepEqual(await verifyDjangoPassword('pw', encoded), { kind: 'unknown_hasher', algorithm: hasher })
    }
    assert.deepEqual(await verifyDjangoPassword('pw', ''), { kind: 'unknown_hasher', algorithm: 'unknown' })
    assert.deepEqual(await verifyDjangoPassword('pw', 'crypt$$abN/qM.L/H8EQ'), { kind: 'unknown_hasher', algorithm: 'crypt' })
  })

  test('verifyDjangoPassword: malformed strings and costs beyond the bounds are malformed, not errors', async () => {
    const of = (h: string) => oracle.cases.find((c) => c.hasher === h && c.default)!.encoded
    const [pbkdf2, bcrypt, argon, scrypt] = ['pbkdf2_sha256', 'bcrypt', 'argon2', 'scrypt'].map(of) as [string, string, string, string]
    const bad = [
      pbkdf2.replace('$260000$', '$999999999$'),
      pbkdf2.replace('$260000$', '$0$'),
      pbkdf2.replace('$260000$', '$26e4$'),
      `${pbkdf2}$extra`,
      'pbkdf2_sha256$260000$salt',
      bcrypt.replace('$2b$12$', '$2b$31$'),
      bcrypt.slice(0, -1),
      'bcrypt$$2x$12$' + 'a'.repeat(53),
      argon.replace('m=102400', 'm=99999999'),
      argon.replace('t=2', 't=0'),
      argon.replace('argon2id', 'argon2x'),
      scrypt.replace('scrypt$16384$', 'scrypt$16385$'),
      scrypt.replace('scrypt$16384$', 'scrypt$1073741824$'),
      'scrypt$16384$salt$8$1',
    ]
    for (const encoded of bad) {
      const outcome = await verifyDjangoPassword('correct horse', encoded)
      assert.equal(outcome.kind, 'malformed', encoded)
    }
  })

  test('createDjangoDummyHash: same hasher and cost as the template, and no password matches it', async () => {
    for (const hasher of ['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2', 'bcrypt_sha256', 'bcrypt', 'scrypt']) {
      const template = oracle.cases.find((c) => c.hasher === hasher && c.default)!
      const dummy = createDjangoDummyHash(template.encoded)
      assert.equal(djangoAlgorithmOf(dummy), hasher)
      const cost = (s: string) =>
        s
          .split('$')
          .filter((_, i) => (hasher === 'scrypt' ? [1, 3, 4] : [1, 2, 3]).includes(i))
          .join('$')
      if (hasher === 'argon2') assert.equal(dummy.split('$').slice(1, 4).join('$'), template.encoded.split('$').slice(1, 4).join('$'))
      else if (hasher.startsWith('bcrypt'))
        assert.equal(dummy.slice(0, dummy.lastIndexOf('$')), template.encoded.slice(0, template.encoded.lastIndexOf('$')))
      else if (hasher === 'scrypt') assert.equal(cost(dummy), cost(template.encoded))
      else assert.equal(dummy.split('$')[1], template.encoded.split('$')[1])
      assert.notEqual(dummy, template.encoded)
      assert.deepEqual(await verifyDjangoPassword(template.answers[0]![0], dummy), { kind: 'mismatch' })
    }
    // No usable template: Django 3.2's default hasher and cost.
    for (const template of [null, oracle.unusable, 'md5$x$y']) assert.match(createDjangoDummyHash(template), /^pbkdf2_sha256\$260000\$/)
  })

  test('verifyDjangoPassword: the event loop keeps turning while a hash is verified (no hasher blocks it)', async () => {
    for (const hasher of ['pbkdf2_sha256', 'argon2', 'bcrypt', 'scrypt']) {
      // Django's default costs: 0.05 to 0.3 s each, many event-loop turns for an async hasher.
      const c = oracle.cases.find((x) => x.hasher === hasher && x.default)!
      let turns = 0
      let done = false
      const spin = (): void => {
        if (done) return
        turns++
        setImmediate(spin)
      }
      setImmediate(spin)
      const outcome = await verifyDjangoPassword(c.answers[0]![0], c.encoded)
      done = true
      assert.equal(outcome.kind, 'match')
      // A verification done on the main thread would let at most the first turn through.
      assert.ok(turns >= 3, `${hasher}: the loop turned ${turns} times`)
    }
  })

  test('django hashers: argon2 and bcrypt addons load only when such a hash is first met', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/django-lazy-addons.ts', import.meta.url))
    const pbkdf2 = oracle.cases.find((c) => c.hasher === 'pbkdf2_sha256')!
    const bcrypt = oracle.cases.find((c) => c.hasher === 'bcrypt')!
    const check = async (c: Oracle['cases'][number]) =>
      JSON.parse((await run(process.execPath, ['--import', 'tsx', fixture, c.answers[0]![0], c.encoded])).stdout) as {
        kind: string
        loaded: string[]
      }
    const plain = await check(pbkdf2)
    assert.equal(plain.kind, 'match')
    assert.deepEqual(plain.loaded, [])
    const native = await check(bcrypt)
    assert.equal(native.kind, 'match')
    assert.ok(
      native.loaded.some((f) => /bcrypt.*\.node$/.test(f)),
      native.loaded.join(),
    )
    assert.ok(!native.loaded.some((f) => /argon2.*\.node$/.test(f)), native.loaded.join())
  })
})
