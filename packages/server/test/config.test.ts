import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { resolve } from 'node:path'
import { test } from 'node:test'
import { type Config, loadConfig, loadPasswordParams } from '../src/config.js'
import { ConfigError } from '../src/errors.js'

// Fake PEM armour for malformed-key cases, assembled so no key-looking text sits in the tree.
const PEM_BEGIN = `-----BEGIN ${'PRIVATE'} KEY-----`
const PEM_END = `-----END ${'PRIVATE'} KEY-----`

const SECRET = 'a-hs256-secret-that-is-long-enough-0123'

/** The ConfigError `loadConfig` throws for `env` (fails the test when it does not throw). */
function configError(env: Record<string, string>, argv: string[] = []): ConfigError {
  try {
    loadConfig(env, argv)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`)
    return err
  }
  return assert.fail(`accepted ${JSON.stringify(env)}`)
}

function variables(err: ConfigError): string[] {
  return err.problems.map((p) => p.variable)
}

test('config: with no variables every setting has its documented default', () => {
  const c = loadConfig({})
  assert.equal(c.mode, 'development')
  assert.equal(c.port, 8000)
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.store, 'sqlite')
  assert.equal(c.dataDir, resolve('.baton'))
  assert.equal(c.redis, null)
  assert.equal(c.databaseURL, null)
  assert.equal(c.accessTokenLifetime, 300)
  assert.equal(c.refreshTokenLifetime, 86_400)
  assert.equal(c.sessionMaxLifetime, 2_592_000)
  assert.equal(c.refreshGraceSeconds, 15)
  assert.equal(c.rotateRefreshTokens, true)
  assert.equal(c.algorithm, 'ES256')
  assert.equal(c.privateKey, null)
  assert.equal(c.secret, null)
  assert.equal(c.leeway, 5)
  assert.deepEqual(c.loginRateLimit, { max: 10, windowSeconds: 900 })
  assert.equal(c.storeTimeoutMs, 500)
  assert.equal(c.logLevel, 'info')
  assert.equal(c.registration, true)
  assert.equal(c.demo, true)
  assert.equal(c.tokenTransport, 'body')
  assert.equal(c.workers, 1)
  assert.deepEqual(c.passwordParams, { ln: 17, r: 8, p: 1 })
})

test('config: every SPEC §5 variable parses into its setting', () => {
  const pairs: [Record<string, string>, (c: Config) => unknown, unknown][] = [
    [{ PORT: '9000' }, (c) => c.port, 9000],
    [{ PORT: '0' }, (c) => c.port, 0],
    [{ HOST: '0.0.0.0' }, (c) => c.host, '0.0.0.0'],
    [{ BATON_MODE: 'production', JWT_PRIVATE_KEY: '{"kty":"OKP"}' }, (c) => c.mode, 'production'],
    [{ BATON_MODE: 'Development' }, (c) => c.mode, 'development'],
    [{ BATON_STORE: 'memory' }, (c) => c.store, 'memory'],
    [{ BATON_STORE: 'sqlite' }, (c) => c.store, 'sqlite'],
    [{ BATON_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6390' }, (c) => c.store, 'redis'],
    [{ BATON_DATA_DIR: '/tmp/baton-data' }, (c) => c.dataDir, '/tmp/baton-data'],
    [{ BATON_DATA_DIR: 'relative/dir' }, (c) => c.dataDir, resolve('relative/dir')],
    [{ REDIS_URL: 'rediss://default:pw@cache.example:6380/2' }, (c) => c.redis?.url, 'rediss://default:pw@cache.example:6380/2'],
    [{ DATABASE_URL: 'postgres://u:p@127.0.0.1:5433/baton' }, (c) => c.databaseURL, 'postgres://u:p@127.0.0.1:5433/baton'],
    [{ ACCESS_TOKEN_LIFETIME: '60' }, (c) => c.accessTokenLifetime, 60],
    [{ REFRESH_TOKEN_LIFETIME: '3600' }, (c) => c.refreshTokenLifetime, 3600],
    [{ SESSION_MAX_LIFETIME: '7200' }, (c) => c.sessionMaxLifetime, 7200],
    [{ REFRESH_GRACE_SECONDS: '0' }, (c) => c.refreshGraceSeconds, 0],
    [{ REFRESH_GRACE_SECONDS: '30' }, (c) => c.refreshGraceSeconds, 30],
    [{ ROTATE_REFRESH_TOKENS: 'false' }, (c) => c.rotateRefreshTokens, false],
    [{ ROTATE_REFRESH_TOKENS: 'False' }, (c) => c.rotateRefreshTokens, false],
    [{ ROTATE_REFRESH_TOKENS: '1' }, (c) => c.rotateRefreshTokens, true],
    [{ JWT_ALGORITHM: 'ES256' }, (c) => c.algorithm, 'ES256'],
    [{ JWT_ALGORITHM: 'rs256' }, (c) => c.algorithm, 'RS256'],
    [{ JWT_ALGORITHM: 'HS256', JWT_SECRET: SECRET }, (c) => Buffer.from(c.secret!).toString(), SECRET],
    [
      { JWT_ALGORITHM: 'HS256', JWT_SECRET: `base64:${Buffer.alloc(32, 7).toString('base64')}` },
      (c) => Buffer.from(c.secret!).equals(Buffer.alloc(32, 7)),
      true,
    ],
    [{ JWT_PRIVATE_KEY: ' {"kty":"OKP"} ' }, (c) => c.privateKey, '{"kty":"OKP"}'],
    [{ JWT_PRIVATE_KEY: PEM_BEGIN + '\\nabc\\n' + PEM_END }, (c) => c.privateKey, PEM_BEGIN + '\nabc\n' + PEM_END],
    [{ JWT_LEEWAY: '0' }, (c) => c.leeway, 0],
    [{ LOGIN_RATE_LIMIT: '3/60' }, (c) => c.loginRateLimit, { max: 3, windowSeconds: 60 }],
    [{ LOGIN_RATE_LIMIT: 'off' }, (c) => c.loginRateLimit, null],
    [{ STORE_TIMEOUT_MS: '200' }, (c) => c.storeTimeoutMs, 200],
    [{ LOG_LEVEL: 'debug' }, (c) => c.logLevel, 'debug'],
    [{ LOG_LEVEL: 'WARN' }, (c) => c.logLevel, 'warn'],
    [{ PASSWORD_SCRYPT_LN: '12' }, (c) => c.passwordParams, { ln: 12, r: 8, p: 1 }],
    [{ PASSWORD_SCRYPT_LN: ' 20 ' }, (c) => c.passwordParams, { ln: 20, r: 8, p: 1 }],
  ]
  for (const [env, read, expected] of pairs) assert.deepEqual(read(loadConfig(env)), expected, JSON.stringify(env))
})

test('config: an empty variable counts as unset', () => {
  const c = loadConfig({ PORT: '', JWT_SECRET: '', LOG_LEVEL: '' })
  assert.equal(c.port, 8000)
  assert.equal(c.secret, null)
  assert.equal(c.logLevel, 'info')
})

test('config: CLI flags win over environment variables', () => {
  const c = loadConfig({ PORT: '1000', HOST: '0.0.0.0' }, ['--port', '2000', '--host=::1'])
  assert.equal(c.port, 2000)
  assert.equal(c.host, '::1')
  assert.deepEqual(variables(configError({ PORT: '1000' }, ['--port', 'x'])), ['--port'])
})

test('config: each invalid value is a ConfigError naming its variable', () => {
  const cases: Record<string, string>[] = [
    { PORT: 'abc' },
    { PORT: '70000' },
    { PORT: '-1' },
    { BATON_MODE: 'staging' },
    { BATON_STORE: 'mongo' },
    { BATON_STORE: 'redis' },
    { DATABASE_URL: 'mysql://u:p@h/db' },
    { ACCESS_TOKEN_LIFETIME: '5m' },
    { ACCESS_TOKEN_LIFETIME: '0' },
    { REFRESH_TOKEN_LIFETIME: '1.5' },
    { SESSION_MAX_LIFETIME: 'forever' },
    { REFRESH_GRACE_SECONDS: '-3' },
    { ROTATE_REFRESH_TOKENS: 'maybe' },
    { JWT_ALGORITHM: 'none' },
    { JWT_ALGORITHM: 'HS512' },
    { JWT_PRIVATE_KEY: 'garbage' },
    { JWT_LEEWAY: 'lots' },
    { LOGIN_RATE_LIMIT: 'many' },
    { LOGIN_RATE_LIMIT: '0/60' },
    { STORE_TIMEOUT_MS: '0' },
    { STORE_TIMEOUT_MS: 'fast' },
    { LOG_LEVEL: 'loud' },
    { REDIS_URL: 'localhost:6379' },
    { PASSWORD_SCRYPT_LN: '9' },
    { PASSWORD_SCRYPT_LN: '21' },
    { PASSWORD_SCRYPT_LN: 'high' },
  ]
  for (const env of cases) {
    const err = configError(env)
    const [name] = Object.keys(env)
    assert.ok(variables(err).includes(name!), `${JSON.stringify(env)} → ${variables(err).join(', ')}`)
    for (const p of err.problems) {
      assert.ok(p.problem.length > 0 && p.fix.length > 0)
      assert.ok(err.message.includes(p.variable))
    }
  }
})

test('config: HS256 refuses a JWT_SECRET shorter than 32 bytes, without echoing it', () => {
  const short = 'only-thirty-one-bytes-long-0123'
  assert.equal(Buffer.byteLength(short), 31)
  const err = configError({ JWT_ALGORITHM: 'HS256', JWT_SECRET: short })
  assert.deepEqual(variables(err), ['JWT_SECRET'])
  assert.ok(!err.message.includes(short))
  assert.deepEqual(variables(configError({ JWT_ALGORITHM: 'HS256', JWT_SECRET: `base64:${Buffer.alloc(16).toString('base64')}` })), [
    'JWT_SECRET',
  ])
  // 32 bytes is enough.
  assert.equal(loadConfig({ JWT_ALGORITHM: 'HS256', JWT_SECRET: `${short}x` }).secret?.length, 32)
})

test('config: several problems are reported at once', () => {
  const err = configError({ PORT: 'abc', LOG_LEVEL: 'loud', STORE_TIMEOUT_MS: 'x', JWT_ALGORITHM: 'none' })
  assert.deepEqual(variables(err).sort(), ['JWT_ALGORITHM', 'LOG_LEVEL', 'PORT', 'STORE_TIMEOUT_MS'])
})

test('config: production without a key is a ConfigError for JWT_PRIVATE_KEY (JWT_SECRET for HS256)', () => {
  assert.deepEqual(variables(configError({ BATON_MODE: 'production' })), ['JWT_PRIVATE_KEY'])
  assert.deepEqual(variables(configError({ BATON_MODE: 'production', JWT_ALGORITHM: 'ES256' })), ['JWT_PRIVATE_KEY'])
  assert.deepEqual(variables(configError({ BATON_MODE: 'production', JWT_ALGORITHM: 'HS256' })), ['JWT_SECRET'])
  // Development makes its own key instead.
  assert.equal(loadConfig({}).privateKey, null)
})

test('config: a key of the wrong kind for the algorithm is refused', () => {
  assert.deepEqual(variables(configError({ JWT_ALGORITHM: 'HS256', JWT_SECRET: SECRET, JWT_PRIVATE_KEY: '{"kty":"OKP"}' })), [
    'JWT_PRIVATE_KEY',
  ])
  assert.deepEqual(variables(configError({ JWT_SECRET: SECRET })), ['JWT_SECRET'])
})

test('config: an Ed25519 JWT_PRIVATE_KEY without JWT_ALGORITHM (the default before ES256) names JWT_ALGORITHM=EdDSA as the fix', () => {
  const { privateKey } = generateKeyPairSync('ed25519')
  const forms = [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), JSON.stringify(privateKey.export({ format: 'jwk' }))]
  for (const key of forms) {
    const err = configError({ BATON_MODE: 'production', JWT_PRIVATE_KEY: key })
    assert.deepEqual(variables(err), ['JWT_ALGORITHM'])
    assert.match(err.problems[0]!.fix, /JWT_ALGORITHM=EdDSA/)
    assert.ok(!err.message.includes(key.slice(40, 80)), 'the key is not echoed')
    assert.equal(loadConfig({ BATON_MODE: 'production', JWT_PRIVATE_KEY: key, JWT_ALGORITHM: 'EdDSA' }).algorithm, 'EdDSA')
  }
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  assert.equal(loadConfig({ BATON_MODE: 'production', JWT_PRIVATE_KEY: ec }).algorithm, 'ES256')
})

test('config: production turns registration and the demo page off', () => {
  const c = loadConfig({ BATON_MODE: 'production', JWT_PRIVATE_KEY: '{"kty":"OKP"}' })
  assert.equal(c.registration, false)
  assert.equal(c.demo, false)
  const dev = loadConfig({ BATON_REGISTRATION: 'false', BATON_DEMO: 'off' })
  assert.equal(dev.registration, false)
  assert.equal(dev.demo, false)
})

test('config: BATON_STORE defaults to redis when REDIS_URL is set, else sqlite', () => {
  assert.equal(loadConfig({}).store, 'sqlite')
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390' }).store, 'redis')
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390', BATON_STORE: 'memory' }).store, 'memory')
})

test('config: a quoted REDIS_URL is corrected with a finding', () => {
  const c = loadConfig({ REDIS_URL: '"redis://default:s3cret@127.0.0.1:6390"' })
  assert.equal(c.redis?.url, 'redis://default:s3cret@127.0.0.1:6390')
  assert.deepEqual(
    c.redis?.findings.map((f) => f.code),
    ['surrounding_quotes'],
  )
  for (const f of c.redis!.findings) assert.ok(!f.message.includes('s3cret'))
  const prefixed = loadConfig({ REDIS_URL: 'REDIS_URL=redis://127.0.0.1:6390\n' })
  assert.equal(prefixed.redis?.url, 'redis://127.0.0.1:6390')
  assert.ok(prefixed.redis!.findings.length >= 1)
})

test('config: an ambiguous REDIS_URL is a ConfigError naming REDIS_URL, without the password', () => {
  for (const url of [
    'redis://default:hunter2@x@cache.example:6379',
    'redis://default:pa#ss@cache.example:6379',
    'redis://cache.example:port',
  ]) {
    const err = configError({ REDIS_URL: url })
    assert.deepEqual(variables(err), ['REDIS_URL'])
    assert.ok(!err.message.includes('hunter2') && !err.message.includes('pa#ss'), err.message)
  }
})

test('config: in production an HS256 secret equal to the Redis or database password is refused', () => {
  const env = { BATON_MODE: 'production', JWT_ALGORITHM: 'HS256', JWT_SECRET: SECRET }
  assert.deepEqual(variables(configError({ ...env, REDIS_URL: `redis://default:${SECRET}@127.0.0.1:6390` })), ['JWT_SECRET'])
  assert.deepEqual(variables(configError({ ...env, DATABASE_URL: `postgres://u:${SECRET}@127.0.0.1:5433/db` })), ['JWT_SECRET'])
  const err = configError({ ...env, REDIS_URL: `redis://default:${SECRET}@127.0.0.1:6390` })
  assert.ok(!err.message.includes(SECRET))
  // A different password is fine.
  assert.equal(loadConfig({ ...env, REDIS_URL: 'redis://default:other-password@127.0.0.1:6390' }).algorithm, 'HS256')
})

test('config: the configuration object is frozen, nested objects too', () => {
  const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390', BATON_CORS_ORIGINS: 'http://localhost:5173' })
  assert.ok(Object.isFrozen(c))
  assert.ok(Object.isFrozen(c.redis))
  assert.ok(Object.isFrozen(c.corsOrigins))
  assert.ok(Object.isFrozen(c.loginRateLimit))
  assert.throws(() => {
    ;(c as { port: number }).port = 1
  }, TypeError)
})

test('config: loadPasswordParams reads PASSWORD_SCRYPT_LN alone, with the same rules', () => {
  assert.deepEqual(loadPasswordParams({}), { ln: 17, r: 8, p: 1 })
  assert.deepEqual(loadPasswordParams({ PASSWORD_SCRYPT_LN: '' }), { ln: 17, r: 8, p: 1 })
  assert.deepEqual(loadPasswordParams({ PASSWORD_SCRYPT_LN: '11', BATON_MODE: 'nonsense' }), { ln: 11, r: 8, p: 1 })
  for (const raw of ['9', '21', 'high', '1e3']) {
    assert.throws(
      () => loadPasswordParams({ PASSWORD_SCRYPT_LN: raw }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 1 && err.problems[0]!.variable === 'PASSWORD_SCRYPT_LN',
      raw,
    )
  }
})

test('config: BATON_TRUST_PROXY takes a hop count or proxy addresses/CIDRs; false, 0 and unset are no proxy', () => {
  assert.deepEqual(loadConfig({}).trustProxy, { kind: 'none' })
  for (const raw of ['false', '0', 'off', 'no']) assert.deepEqual(loadConfig({ BATON_TRUST_PROXY: raw }).trustProxy, { kind: 'none' }, raw)
  assert.deepEqual(loadConfig({ BATON_TRUST_PROXY: '1' }).trustProxy, { kind: 'hops', hops: 1 })
  assert.deepEqual(loadConfig({ BATON_TRUST_PROXY: ' 2 ' }).trustProxy, { kind: 'hops', hops: 2 })
  assert.deepEqual(loadConfig({ BATON_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, {
    kind: 'addresses',
    addresses: ['10.0.0.0/8', '127.0.0.1'],
  })
  assert.deepEqual(loadConfig({ BATON_TRUST_PROXY: '2001:db8::/32,::1,loopback' }).trustProxy, {
    kind: 'addresses',
    addresses: ['2001:db8::/32', '::1', 'loopback'],
  })
  // Production accepts both safe forms.
  const production = { BATON_MODE: 'production', JWT_ALGORITHM: 'HS256', JWT_SECRET: SECRET }
  assert.deepEqual(loadConfig({ ...production, BATON_TRUST_PROXY: '1' }).trustProxy, { kind: 'hops', hops: 1 })
  assert.deepEqual(loadConfig({ ...production, BATON_TRUST_PROXY: '10.0.0.0/8' }).trustProxy.kind, 'addresses')
})

test('config: BATON_TRUST_PROXY=true (trust every hop) is a ConfigError in production naming the variable, the problem and the fix', () => {
  const production = { BATON_MODE: 'production', JWT_ALGORITHM: 'HS256', JWT_SECRET: SECRET }
  for (const raw of ['true', 'yes', 'on', 'TRUE']) {
    const err = configError({ ...production, BATON_TRUST_PROXY: raw })
    assert.deepEqual(variables(err), ['BATON_TRUST_PROXY'], raw)
    assert.match(err.problems[0]!.problem, /any client could choose its own address/)
    assert.match(err.problems[0]!.fix, /number of proxies.*1.*10\.0\.0\.0\/8,127\.0\.0\.1/)
  }
  // Development takes it (and warns at start: test/http/trust-proxy.test.ts).
  assert.deepEqual(loadConfig({ BATON_TRUST_PROXY: 'true' }).trustProxy, { kind: 'all' })
})

test('config: a BATON_TRUST_PROXY that is neither a count nor addresses is a ConfigError naming the entry', () => {
  for (const raw of ['10.0.0.0/33', '10.0.0/8', '::1/129', '10.0.0.0/8,proxy.internal', '300.1.1.1', 'maybe', '17', '10.0.0.1/-1', ',']) {
    const err = configError({ BATON_TRUST_PROXY: raw })
    assert.deepEqual(variables(err), ['BATON_TRUST_PROXY'], raw)
    assert.match(err.problems[0]!.fix, /number of proxies/)
  }
  assert.match(
    configError({ BATON_TRUST_PROXY: '10.0.0.0/8,proxy.internal' }).problems[0]!.problem,
    /"proxy\.internal" is not an IP address or CIDR range/,
  )
})

test('config: production with the memory store runs one worker unless WORKERS says otherwise (and more is refused)', () => {
  // loadConfig does not parse the key (the key source does): any text stands in for one here.
  const env = { BATON_MODE: 'production', JWT_PRIVATE_KEY: '{"kty":"EC"}', BATON_STORE: 'memory' }
  assert.equal(loadConfig(env).workers, 1)
  assert.ok(loadConfig({ ...env, BATON_STORE: 'sqlite' }).workers >= 1)
  assert.ok(variables(configError({ ...env, WORKERS: '2' })).includes('WORKERS'))
})
