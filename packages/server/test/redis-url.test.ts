import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { test } from 'node:test'
import {
  describeRedisTarget,
  formatLintWarning,
  lintRedisURL,
  maskSecrets,
  maskURL,
  parseRedisURL,
  secretsOf,
  type FindingCode,
  type LintErrorCode,
} from '../src/redis-url.js'

const PW = 'S3cretPw9'

interface OKCase {
  name: string
  raw: string
  url: string
  findings: FindingCode[]
  /** The secret(s) that must not appear in JSON.stringify(result). */
  secrets: string[]
  /** Expected parse of the corrected URL. */
  target?: Partial<ReturnType<typeof parseRedisURL>>
}

interface ErrorCase {
  name: string
  raw: string
  code: LintErrorCode
  secrets: string[]
}

const OK_CASES: OKCase[] = [
  {
    name: 'plain host and port',
    raw: 'redis://localhost:6379',
    url: 'redis://localhost:6379',
    findings: [],
    secrets: [],
    target: { host: 'localhost', port: 6379, db: 0, tls: false, username: null, password: null },
  },
  {
    name: 'default port (ioredis)',
    raw: 'redis://cache.internal',
    url: 'redis://cache.internal',
    findings: [],
    secrets: [],
    target: { port: 6379 },
  },
  {
    name: 'empty user name with password (ioredis)',
    raw: `redis://:${PW}@localhost:6379/2`,
    url: `redis://:${PW}@localhost:6379/2`,
    findings: [],
    secrets: [PW],
    target: { username: null, password: PW, db: 2 },
  },
  {
    name: 'ACL user and password',
    raw: `rediss://default:${PW}@host.example:6380`,
    url: `rediss://default:${PW}@host.example:6380`,
    findings: [],
    secrets: [PW],
    target: { username: 'default', password: PW, tls: true, port: 6380 },
  },
  {
    name: 'percent-encoded special characters are decoded (ioredis)',
    raw: 'rediss://us%40er:p%40ss%23w%2Frd%3F@host:6380/0',
    url: 'rediss://us%40er:p%40ss%23w%2Frd%3F@host:6380/0',
    findings: [],
    secrets: ['p@ss#w/rd?', 'p%40ss%23w%2Frd%3F'],
    target: { username: 'us@er', password: 'p@ss#w/rd?' },
  },
  {
    name: 'IPv6 host in brackets (ioredis)',
    raw: `redis://:${PW}@[::1]:6390`,
    url: `redis://:${PW}@[::1]:6390`,
    findings: [],
    secrets: [PW],
    target: { host: '::1', port: 6390 },
  },
  {
    name: 'db above 15 is accepted (databases setting)',
    raw: 'redis://h:6379/42',
    url: 'redis://h:6379/42',
    findings: [],
    secrets: [],
    target: { db: 42 },
  },
  { name: 'trailing slash means db 0', raw: 'redis://h:6379/', url: 'redis://h:6379/', findings: [], secrets: [], target: { db: 0 } },
  {
    name: 'query options pass through',
    raw: 'redis://h:6379/1?family=6',
    url: 'redis://h:6379/1?family=6',
    findings: [],
    secrets: [],
    target: { db: 1 },
  },
  {
    name: 'a ":" inside the password splits at the first ":"',
    raw: 'redis://u:pa:ss:wd@h',
    url: 'redis://u:pa:ss:wd@h',
    findings: [],
    secrets: ['pa:ss:wd'],
    target: { username: 'u', password: 'pa:ss:wd' },
  },
  {
    name: 'a space inside the password is kept (ioredis reads it)',
    raw: 'redis://:pass word9@h',
    url: 'redis://:pass word9@h',
    findings: [],
    secrets: ['pass word9'],
    target: { password: 'pass word9' },
  },
  { name: 'double quotes', raw: `"redis://:${PW}@h:6379"`, url: `redis://:${PW}@h:6379`, findings: ['surrounding_quotes'], secrets: [PW] },
  { name: 'single quotes', raw: `'redis://:${PW}@h:6379'`, url: `redis://:${PW}@h:6379`, findings: ['surrounding_quotes'], secrets: [PW] },
  {
    name: 'mismatched quotes',
    raw: `"redis://:${PW}@h:6379'`,
    url: `redis://:${PW}@h:6379`,
    findings: ['surrounding_quotes'],
    secrets: [PW],
  },
  {
    name: 'a lone leading quote',
    raw: `"redis://:${PW}@h:6379`,
    url: `redis://:${PW}@h:6379`,
    findings: ['surrounding_quotes'],
    secrets: [PW],
  },
  {
    name: 'typographic quotes from a document',
    raw: `\u201Credis://:${PW}@h:6379\u201D`,
    url: `redis://:${PW}@h:6379`,
    findings: ['surrounding_quotes'],
    secrets: [PW],
  },
  {
    name: 'REDIS_URL= prefix',
    raw: `REDIS_URL=redis://:${PW}@h:6379`,
    url: `redis://:${PW}@h:6379`,
    findings: ['variable_prefix'],
    secrets: [PW],
  },
  {
    name: 'export REDIS_URL="…" (a shell line)',
    raw: `export REDIS_URL="redis://:${PW}@h:6379"`,
    url: `redis://:${PW}@h:6379`,
    findings: ['variable_prefix', 'surrounding_quotes'],
    secrets: [PW],
  },
  {
    name: 'YAML-style REDIS_URL: prefix',
    raw: `REDIS_URL: redis://:${PW}@h:6379`,
    url: `redis://:${PW}@h:6379`,
    findings: ['variable_prefix'],
    secrets: [PW],
  },
  {
    name: 'surrounding whitespace and a trailing newline',
    raw: `  redis://:${PW}@h:6379\r\n`,
    url: `redis://:${PW}@h:6379`,
    findings: ['surrounding_whitespace'],
    secrets: [PW],
  },
  {
    name: 'whitespace inside the quotes',
    raw: `" redis://:${PW}@h:6379 "`,
    url: `redis://:${PW}@h:6379`,
    findings: ['surrounding_whitespace', 'surrounding_quotes'],
    secrets: [PW],
  },
  {
    name: 'upper-case REDISS:// means TLS',
    raw: `REDISS://:${PW}@h:6379`,
    url: `rediss://:${PW}@h:6379`,
    findings: ['uppercase_scheme'],
    secrets: [PW],
    target: { tls: true },
  },
  {
    name: 'mixed-case Redis://',
    raw: 'Redis://h:6379',
    url: 'redis://h:6379',
    findings: ['uppercase_scheme'],
    secrets: [],
    target: { tls: false },
  },
  {
    name: 'redis:// to Upstash is upgraded to rediss://',
    raw: `redis://default:${PW}@eu1-happy-cat-123.upstash.io:6379`,
    url: `rediss://default:${PW}@eu1-happy-cat-123.upstash.io:6379`,
    findings: ['tls_only_host'],
    secrets: [PW],
    target: { tls: true },
  },
  {
    name: 'redis:// to ElastiCache Serverless is upgraded',
    raw: `redis://:${PW}@my-cache-abc123.serverless.use1.cache.amazonaws.com:6379`,
    url: `rediss://:${PW}@my-cache-abc123.serverless.use1.cache.amazonaws.com:6379`,
    findings: ['tls_only_host'],
    secrets: [PW],
  },
  {
    name: 'redis:// to Azure port 6380 is upgraded',
    raw: `redis://:${PW}@x.redis.cache.windows.net:6380`,
    url: `rediss://:${PW}@x.redis.cache.windows.net:6380`,
    findings: ['tls_only_host'],
    secrets: [PW],
  },
  {
    name: 'redis:// to Azure port 6379 (its plain port) is left alone',
    raw: `redis://:${PW}@x.redis.cache.windows.net:6379`,
    url: `redis://:${PW}@x.redis.cache.windows.net:6379`,
    findings: [],
    secrets: [PW],
  },
  {
    name: 'self-designed ElastiCache is left alone (TLS optional)',
    raw: 'redis://c.abc.0001.use1.cache.amazonaws.com:6379',
    url: 'redis://c.abc.0001.use1.cache.amazonaws.com:6379',
    findings: [],
    secrets: [],
  },
  {
    name: 'every correction at once',
    raw: `export REDIS_URL='REDIS://default:${PW}@eu1-x.upstash.io:6379'\n`,
    url: `rediss://default:${PW}@eu1-x.upstash.io:6379`,
    findings: ['surrounding_whitespace', 'variable_prefix', 'surrounding_quotes', 'uppercase_scheme', 'tls_only_host'],
    secrets: [PW],
  },
  {
    name: 'a user-info without ":" is a user name (ioredis)',
    raw: `redis://${PW}@h:6379`,
    url: `redis://${PW}@h:6379`,
    findings: [],
    secrets: [PW],
    target: { username: PW, password: null },
  },
]

const ERROR_CASES: ErrorCase[] = [
  { name: 'empty string', raw: '', code: 'empty', secrets: [] },
  { name: 'only quotes', raw: '""', code: 'empty', secrets: [] },
  { name: 'missing scheme', raw: 'localhost:6379', code: 'missing_scheme', secrets: [] },
  { name: 'missing scheme with a password', raw: `:${PW}@localhost:6379`, code: 'missing_scheme', secrets: [PW] },
  { name: 'scheme-relative', raw: '//h:6379', code: 'missing_scheme', secrets: [] },
  { name: 'missing "//"', raw: `redis::${PW}@h:6379`, code: 'missing_scheme', secrets: [PW] },
  { name: 'http:// scheme', raw: 'http://h:6379', code: 'unknown_scheme', secrets: [] },
  { name: 'https:// REST URL', raw: 'https://eu1-x.upstash.io', code: 'unknown_scheme', secrets: [] },
  { name: 'unix socket (not supported)', raw: 'unix:///run/redis.sock', code: 'unknown_scheme', secrets: [] },
  { name: 'unencoded "@" in the password', raw: 'redis://:p@ssW0rd@h:6379', code: 'unencoded_character', secrets: ['p@ssW0rd'] },
  { name: 'unencoded "#" in the password', raw: 'redis://u:pa#ssW0rd@h:6379', code: 'unencoded_character', secrets: ['pa#ssW0rd'] },
  { name: 'unencoded "/" in the password', raw: 'redis://u:pa/ssW0rd@h:6379', code: 'unencoded_character', secrets: ['pa/ssW0rd'] },
  { name: 'unencoded "?" in the password', raw: 'redis://u:pa?ssW0rd@h:6379', code: 'unencoded_character', secrets: ['pa?ssW0rd'] },
  { name: 'unencoded "\\" in the password', raw: 'redis://u:pa\\ssW0rd@h:6379', code: 'unencoded_character', secrets: ['pa\\ssW0rd'] },
  {
    name: 'several unencoded characters in the password',
    raw: 'rediss://default:a@b#c/d?eW0rd@h:6379',
    code: 'unencoded_character',
    secrets: ['a@b#c/d?eW0rd'],
  },
  { name: 'unencoded "@" in the user name', raw: `redis://me@corp:${PW}@h:6379`, code: 'unencoded_character', secrets: [PW] },
  { name: 'a bare "%" in the password', raw: 'redis://:50%offW0rd@h', code: 'bad_percent_encoding', secrets: ['50%offW0rd'] },
  { name: 'a percent-escape that is not UTF-8', raw: 'redis://:ab%FFcdW0rd@h', code: 'bad_percent_encoding', secrets: ['ab%FFcdW0rd'] },
  { name: 'a line break inside', raw: `redis://:${PW}@h:6379\nredis://other:6379`, code: 'whitespace_inside', secrets: [PW] },
  { name: 'a tab inside the password', raw: 'redis://:pa\tssW0rd@h', code: 'whitespace_inside', secrets: ['pa\tssW0rd'] },
  { name: 'a space in the host part', raw: 'redis://h :6379', code: 'whitespace_inside', secrets: [] },
  { name: 'non-numeric port', raw: 'redis://h:abc', code: 'bad_port', secrets: [] },
  { name: 'port 0', raw: 'redis://h:0', code: 'bad_port', secrets: [] },
  { name: 'port above 65535', raw: 'redis://h:65536', code: 'bad_port', secrets: [] },
  { name: 'empty port', raw: 'redis://h:/0', code: 'bad_port', secrets: [] },
  { name: 'a password without "@host" reads as a port and is not echoed', raw: `redis://default:${PW}`, code: 'bad_port', secrets: [PW] },
  { name: 'non-integer db', raw: 'redis://h:6379/1.5', code: 'bad_db', secrets: [] },
  { name: 'negative db', raw: 'redis://h:6379/-1', code: 'bad_db', secrets: [] },
  { name: 'db name instead of number', raw: 'redis://h:6379/sessions', code: 'bad_db', secrets: [] },
  { name: 'fragment after the host', raw: `redis://:${PW}@h:6379#main`, code: 'fragment', secrets: [PW] },
  { name: 'IPv6 without brackets', raw: 'redis://::1:6379', code: 'bad_host', secrets: [] },
  { name: 'bracketed host that is not IPv6', raw: 'redis://[localhost]:6379', code: 'bad_host', secrets: [] },
  { name: 'invalid host character', raw: 'redis://ho$t:6379', code: 'bad_host', secrets: [] },
  { name: 'missing host', raw: `redis://:${PW}@:6379`, code: 'missing_host', secrets: [PW] },
  { name: 'nothing after the scheme', raw: 'redis://', code: 'missing_host', secrets: [] },
]

for (const c of OK_CASES) {
  test(`lintRedisURL: ${c.name} → ok with ${c.findings.length} finding(s)`, () => {
    const result = lintRedisURL(c.raw)
    assert.equal(result.kind, 'ok', JSON.stringify(result))
    if (result.kind !== 'ok') return
    assert.equal(result.url, c.url)
    assert.deepEqual(
      result.findings.map((f) => f.code),
      c.findings,
    )
    assert.equal(result.findings.length, c.findings.length)
    assert.equal(result.maskedURL, maskURL(c.url))
    for (const f of result.findings) assert.ok(f.message.includes(result.maskedURL), f.message)
    assertNoSecret(result, c.secrets)
    if (c.target !== undefined) {
      const parts = parseRedisURL(result.url)
      for (const [k, v] of Object.entries(c.target)) assert.deepEqual(parts[k as keyof typeof parts], v, k)
    }
    // The corrected URL is stable: linting it again changes nothing.
    const again = lintRedisURL(result.url)
    assert.equal(again.kind, 'ok')
    if (again.kind === 'ok') assert.equal(again.findings.length, 0)
  })
}

for (const c of ERROR_CASES) {
  test(`lintRedisURL: ${c.name} → error ${c.code}`, () => {
    const result = lintRedisURL(c.raw)
    assert.equal(result.kind, 'error', JSON.stringify(result))
    if (result.kind !== 'error') return
    assert.equal(result.code, c.code)
    assert.ok(result.problem.length > 0 && result.fix.length > 0)
    assertNoSecret(result, c.secrets)
  })
}

function assertNoSecret(result: object, secrets: string[]): void {
  const json = JSON.stringify(result)
  const shown = inspect(result, { depth: 5 })
  for (const s of secrets) {
    assert.ok(!json.includes(s) && !json.includes(JSON.stringify(s).slice(1, -1)), `secret in JSON: ${json}`)
    assert.ok(!shown.includes(s), `secret in inspect(): ${shown}`)
  }
}

test('lintRedisURL: an unencoded "@" error names the fix "%40" and the field', () => {
  const result = lintRedisURL('redis://:p@ssW0rd@h:6379')
  assert.equal(result.kind, 'error')
  if (result.kind !== 'error') return
  assert.match(result.problem, /"@" in the password/)
  assert.match(result.fix, /@ → %40/)
})

test('lintRedisURL: a missing scheme suggests the URL with a scheme, password masked', () => {
  const result = lintRedisURL(`:${PW}@localhost:6379`)
  assert.equal(result.kind, 'error')
  if (result.kind !== 'error') return
  assert.match(result.fix, /redis:\/\/:\*\*\*\*@localhost:6379/)
})

test('lintRedisURL: the corrected url is hidden from JSON and spread but readable', () => {
  const result = lintRedisURL(`"redis://:${PW}@h:6379"`)
  assert.equal(result.kind, 'ok')
  if (result.kind !== 'ok') return
  assert.equal(result.url, `redis://:${PW}@h:6379`)
  assert.deepEqual(JSON.parse(JSON.stringify(result)).maskedURL, 'redis://:****@h:6379')
  assert.equal('url' in { ...result }, false)
})

test('formatLintWarning: one line naming every correction and the masked corrected form', () => {
  const line = formatLintWarning(lintRedisURL(`REDIS_URL="REDISS://:${PW}@h:6379"`))
  assert.equal(
    line,
    'REDIS_URL corrected (REDIS_URL= prefix removed, quotes removed, scheme lower-cased); using rediss://:****@h:6379. Set REDIS_URL to that value to silence this warning.',
  )
  assert.equal(formatLintWarning(lintRedisURL('redis://h')), null)
  assert.equal(formatLintWarning(lintRedisURL('h')), null)
})

test('describeRedisTarget: host, port, TLS, db, user and whether there is a password, never the password', () => {
  const t = describeRedisTarget(`rediss://app:${PW}@[::1]:6390/3`)
  assert.deepEqual(t, { host: '::1', port: 6390, tls: true, db: 3, username: 'app', hasPassword: true })
  assert.ok(!JSON.stringify(t).includes(PW))
  assert.deepEqual(describeRedisTarget('redis://h'), { host: 'h', port: 6379, tls: false, db: 0, username: null, hasPassword: false })
  assert.throws(() => describeRedisTarget('redis://h:0'), TypeError)
})

test('maskURL: masks the password, keeps user, host, port, db', () => {
  assert.equal(maskURL(`rediss://default:${PW}@host:6379/1`), 'rediss://default:****@host:6379/1')
  assert.equal(maskURL(`redis://:${PW}@host`), 'redis://:****@host')
  assert.equal(maskURL('redis://:p@ss#w@host'), 'redis://:****@host')
  assert.equal(maskURL(`redis://${PW}@host`), 'redis://****@host')
  assert.equal(maskURL('redis://user:@host'), 'redis://user:@host')
  assert.equal(maskURL('redis://host:6379'), 'redis://host:6379')
  assert.equal(maskURL(`redis://host/0?password=${PW}&family=6`), 'redis://host/0?password=****&family=6')
})

test('maskSecrets: masks URLs with passwords inside free text', () => {
  const text = `Error: connect ECONNREFUSED (redis://u:p@ss#${PW}@10.0.0.1:6379) and postgres://pg:${PW}@db/app; ok`
  const masked = maskSecrets(text)
  assert.ok(!masked.includes(PW), masked)
  assert.ok(!masked.includes('p@ss'), masked)
  assert.match(masked, /redis:\/\/u:\*\*\*\*@10\.0\.0\.1:6379/)
  assert.match(masked, /postgres:\/\/pg:\*\*\*\*@db\/app/)
  assert.equal(maskSecrets('nothing secret here: redis://h:6379'), 'nothing secret here: redis://h:6379')
})

test('maskSecrets: masks known secrets, raw and percent-encoded, wherever they appear', () => {
  const secret = 'p@ss word'
  const text = `ReplyError: WRONGPASS for AUTH ${secret} (url had ${encodeURIComponent(secret)})`
  const masked = maskSecrets(text, [secret])
  assert.ok(!masked.includes(secret) && !masked.includes(encodeURIComponent(secret)), masked)
})

test('secretsOf: the raw and decoded password, also for URLs that do not lint', () => {
  assert.deepEqual(secretsOf('redis://u:p%40ss@h'), ['p%40ss', 'p@ss'])
  assert.deepEqual(secretsOf('redis://:p@ss@h'), ['p@ss'])
  assert.deepEqual(secretsOf('redis://h:6379'), [])
  assert.deepEqual(secretsOf(`"redis://${PW}@h"`), [PW])
})
