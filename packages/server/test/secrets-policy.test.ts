import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../src/config.js'
import {
  configuredPasswords,
  maskDatabaseURL,
  maskSecrets,
  maskURL,
  MIN_SECRET_LENGTH,
  sanitizeError,
  scrubError,
  secretsOf,
} from '../src/secrets.js'
import * as redisURL from '../src/redis-url.js'

/**
 * The whole masking policy of src/secrets.ts, in one place: every URL kind baton reads, every
 * character that moves a WHATWG parser's idea of where the password ends, errors as client
 * libraries shape them, and the short-secret rule.
 */

/** Each character that WHATWG `URL` reads as the end of a password: fragment, query, path, user-info. */
const HARD = ['#', '?', '/', '@', ':', '%']
const hardPassword = (c: string): string => `s3cr${c}t-${c}pass`

for (const c of HARD) {
  for (const scheme of ['redis', 'rediss', 'postgres', 'postgresql']) {
    test(`policy: a ${scheme}:// password holding "${c}" (unencoded) never shows, in maskURL, maskDatabaseURL or free text`, () => {
      const pw = hardPassword(c)
      const url = `${scheme}://app:${pw}@db.internal:6390/2`
      for (const shown of [maskURL(url), maskDatabaseURL(url), maskSecrets(`connect to ${url} failed`)]) {
        assert.ok(!shown.includes('s3cr'), shown)
        assert.ok(!shown.includes('pass'), shown)
        assert.ok(shown.includes('db.internal'), `the host stays readable: ${shown}`)
      }
      assert.equal(maskURL(url), `${scheme}://app:****@db.internal:6390/2`)
      assert.ok(secretsOf(url).includes(pw), JSON.stringify(secretsOf(url)))
    })
  }
}

test('policy: a percent-encoded password is a secret raw and decoded, and both forms are masked in text', () => {
  const pw = 'p@ss#w/rd?:%'
  const url = `rediss://default:${encodeURIComponent(pw)}@cache:6380`
  assert.deepEqual(secretsOf(url), [encodeURIComponent(pw), pw])
  const text = `AUTH default ${pw} failed; url ${encodeURIComponent(pw)}`
  const masked = maskSecrets(text, secretsOf(url))
  assert.equal(masked, 'AUTH default **** failed; url ****')
})

test('policy: a secret is masked as JSON escapes it too (a quote or backslash in a password on a JSON line)', () => {
  const pw = 'pa"ss\\word'
  const line = JSON.stringify({ msg: `AUTH default ${pw} failed` })
  assert.ok(line.includes('pa\\"ss'), 'the line carries the escaped form')
  const masked = maskSecrets(line, [pw])
  assert.equal(JSON.parse(masked).msg, 'AUTH default **** failed')
})

test('policy: a Redis user-info without ":" is masked whole; a database URL keeps a bare user name', () => {
  assert.equal(maskURL('redis://hunter2hunter@host:6379'), 'redis://****@host:6379')
  assert.equal(maskDatabaseURL('postgres://app@db:5432/app'), 'postgres://app@db:5432/app')
  assert.equal(maskURL('redis://user:@host'), 'redis://user:@host')
  assert.equal(maskURL('redis://host:6379/0'), 'redis://host:6379/0')
})

test('policy: a database URL drops its query and fragment (they may carry passwords or key paths)', () => {
  assert.equal(
    maskDatabaseURL('postgres://app:pw-1234@db:5432/app?sslmode=verify-full&sslpassword=key-pass&sslkey=/k'),
    'postgres://app:****@db:5432/app',
  )
  assert.equal(maskDatabaseURL('POSTGRES://app:pw#1@db/app'), 'postgres://app:****@db/app')
  assert.equal(maskDatabaseURL('not a url with pw-1234'), '<unparseable DATABASE_URL>')
  assert.ok(secretsOf('postgres://app@db/app?password=q-secret-1').includes('q-secret-1'))
})

test('policy: password-like query parameters are masked in URLs and in text', () => {
  assert.equal(maskURL('redis://host/0?password=pw-1234&family=6'), 'redis://host/0?password=****&family=6')
  assert.equal(maskSecrets('GET /x?token=abc-123&auth=zz&sslpassword=k1 done'), 'GET /x?token=****&auth=****&sslpassword=**** done')
})

test('policy: URLs inside free text: any scheme, the password may hold "@"; text without secrets is unchanged', () => {
  const text = 'ECONNREFUSED (redis://u:p@ss#w0rd@10.0.0.1:6379) and amqp://guest:guest-pw@mq/; ok'
  const masked = maskSecrets(text)
  assert.equal(masked, 'ECONNREFUSED (redis://u:****@10.0.0.1:6379) and amqp://guest:****@mq/; ok')
  const plain = 'nothing secret: redis://h:6379, mail admin@example.com'
  assert.equal(maskSecrets(plain), plain)
})

test(`policy: literal secrets shorter than ${MIN_SECRET_LENGTH} characters are not masked in free text, but still in a URL`, () => {
  assert.equal(maskSecrets('a bad answer', ['a']), 'a bad answer')
  assert.equal(maskSecrets('ab cab', ['ab']), 'ab cab')
  assert.equal(maskSecrets('abc cabc', ['abc']), '**** c****')
  assert.equal(maskURL('redis://:a@host'), 'redis://:****@host')
  assert.equal(maskSecrets('see redis://u:a@host'), 'see redis://u:****@host')
})

test('policy: a longer secret that contains a shorter one is masked whole', () => {
  assert.equal(maskSecrets('x secret-long y', ['secret', 'secret-long']), 'x **** y')
})

test('policy: scrubError masks message, stack and causes in place, keeps the class, and keeps only the name of an ioredis command', () => {
  class ReplyError extends Error {
    override name = 'ReplyError'
  }
  const cause = new Error('inner redis://x:inner-secret@h')
  const err = Object.assign(new ReplyError('WRONGPASS for hunter22'), {
    command: { name: 'auth', args: ['bob', 'hunter22'] },
    cause,
    previousErrors: [new Error('again hunter22')],
    lastNodeError: 'node said hunter22',
  })
  const scrubbed = scrubError(err, ['hunter22'])
  assert.equal(scrubbed, err, 'in place')
  assert.ok(scrubbed instanceof ReplyError)
  assert.equal(scrubbed.message, 'WRONGPASS for ****')
  assert.deepEqual((scrubbed as typeof err).command, { name: 'auth' })
  assert.equal((scrubbed.cause as Error).message, 'inner redis://x:****@h')
  const dump = JSON.stringify({ ...scrubbed, stack: scrubbed.stack, m: scrubbed.message })
  assert.ok(!dump.includes('hunter22') && !dump.includes('inner-secret'), dump)
  assert.equal(scrubError('plain hunter22 string', ['hunter22']).message, 'plain **** string')
})

test('policy: sanitizeError copies only name, masked message and stack, and a string code', () => {
  const err = Object.assign(new Error('password authentication failed for "app" (pg-s3cret)'), {
    code: '28P01',
    client: { connectionString: 'postgres://app:pg-s3cret@db/app' },
    cause: new Error('pg-s3cret'),
  })
  err.name = 'DatabaseError'
  const safe = sanitizeError(err, secretsOf('postgres://app:pg-s3cret@db/app'))
  assert.equal(safe.name, 'DatabaseError')
  assert.equal(safe.code, '28P01')
  assert.equal(safe.message, 'password authentication failed for "app" (****)')
  assert.equal(safe.cause, undefined)
  assert.ok(!JSON.stringify({ ...safe, stack: safe.stack }).includes('pg-s3cret'))
})

test('policy: secretsOf tolerates what does not lint (quotes, a NAME= prefix, a malformed escape)', () => {
  assert.deepEqual(secretsOf(' "REDIS_URL=redis://:quoted-pw@h" '), ['quoted-pw'])
  assert.deepEqual(secretsOf("export DATABASE_URL='postgres://u:x%zz@h/db'"), ['x%zz'])
  assert.deepEqual(secretsOf('REDIS://:upper-pw@h'), ['upper-pw'])
  assert.deepEqual(secretsOf('redis://h:6379'), [])
  assert.deepEqual(secretsOf('not a url'), [])
})

test('policy: configuredPasswords reads REDIS_URL, DATABASE_URL (also with # in the password) and REDIS_SENTINEL_PASSWORD', () => {
  const got = configuredPasswords({
    REDIS_URL: 'redis://:r3dis#pw@h:6379',
    DATABASE_URL: 'postgres://u:pg%40pw@db/app',
    REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
    OTHER: 'redis://:not-me@h',
  })
  assert.deepEqual(got.sort(), ['pg%40pw', 'pg@pw', 'r3dis#pw', 'sentinel-pw'].sort())
})

test('policy: a JWT_SECRET equal to a database password holding "#" is refused (WHATWG URL read it as a fragment)', () => {
  const secret = 'x'.repeat(20) + '#' + 'y'.repeat(20)
  assert.throws(
    () =>
      loadConfig({
        BATON_MODE: 'production',
        JWT_ALGORITHM: 'HS256',
        JWT_SECRET: secret,
        DATABASE_URL: `postgres://app:${secret}@127.0.0.1:5432/app`,
      }),
    (err: Error) => /JWT_SECRET: is the same as another secret/.test(err.message) && !JSON.stringify(err).includes(secret),
  )
})

test('policy: redis-url.ts re-exports the same masking functions (one implementation)', () => {
  assert.equal(redisURL.maskURL, maskURL)
  assert.equal(redisURL.maskSecrets, maskSecrets)
  assert.equal(redisURL.secretsOf, secretsOf)
})
