import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { deriveRefreshSecret } from '../../src/tokens/refresh-key.js'
import { b64url, fromB64url } from './forge.js'
import { freePort, startRedisServer, waitFor } from '../helpers/redis-server.js'

/**
 * Secrets hygiene (issue 6): whole scenarios run in a SPAWNED `baton serve` at LOG_LEVEL=debug,
 * then everything the process printed (stdout + stderr) is searched for every token issued (and
 * each token's signature alone), every password sent, the signing key's private `d` and the
 * Redis password. Every error body is searched for tokens, the key id, store addresses and stacks.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const MAIN = 'packages/server/src/cli/main.ts'
const REDIS_PASSWORD = 'S3cretPassw0rd'

interface Baton {
  base: string
  child: ChildProcess
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string
  /** SIGTERM, then the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>
  exited: Promise<number | null>
}

const children = new Set<ChildProcess>()
const dirs: string[] = []
after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-secrets-'))
  dirs.push(dir)
  return dir
}

/** Spawns `baton serve` from the sources; resolves once /healthz answers (or rejects if it exits). */
async function spawnBaton(env: Record<string, string>, options: { waitReady?: boolean } = {}): Promise<Baton> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'debug',
      BATON_DEMO: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let out = ''
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child)
      resolve(code)
    }),
  )
  const base = `http://127.0.0.1:${port}`
  const baton: Baton = {
    base,
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
  if (options.waitReady !== false) {
    let gone = false
    await Promise.race([
      waitFor(async () => gone || (await fetch(`${base}/healthz`)).ok, 30_000, 'baton to answer /healthz'),
      exited.then(() => (gone = true)),
    ])
    if (gone) throw new Error(`baton exited before it was ready:\n${out}`)
  }
  return baton
}

interface Collected {
  url: string
  status: number
  body: string
  headers: Headers
}

/** Every secret of a run, with a label for the failure message, and every answer it got. */
class Evidence {
  readonly secrets = new Map<string, string>()
  readonly answers: Collected[] = []
  /** Strings that must not appear in error bodies only (public, but not for error bodies). */
  readonly notInErrors = new Map<string, string>()
  /** The key id of the issued tokens (public in the JWKS, but never in an error body). */
  kid: string | undefined

  secret(value: string, label: string): void {
    if (value.length < 6) throw new Error(`secret "${label}" too short to search for`)
    this.secrets.set(value, label)
    const encoded = encodeURIComponent(value)
    if (encoded !== value) this.secrets.set(encoded, `${label} (percent-encoded)`)
  }

  token(token: string, label: string): void {
    this.kid ??= (JSON.parse(fromB64url(token.split('.')[0]!)) as { kid?: string }).kid
    this.secret(token, label)
    this.secret(token.split('.')[2]!, `${label} signature`)
  }

  /** Labels of every secret found in `text`. */
  found(text: string): string[] {
    return [...this.secrets].filter(([value]) => text.includes(value)).map(([, label]) => label)
  }
}

/** A tiny HTTP client that records every answer and every token it is given. */
function client(base: string, ev: Evidence) {
  let n = 0
  async function record(url: string, res: Response): Promise<Collected> {
    const body = await res.text()
    const seen = { url, status: res.status, body, headers: res.headers }
    ev.answers.push(seen)
    if (res.status === 200 && body.startsWith('{')) {
      const json = JSON.parse(body) as Record<string, unknown>
      for (const k of ['access', 'refresh'] as const) if (typeof json[k] === 'string') ev.token(json[k], `${k} token #${++n}`)
    }
    return seen
  }
  return {
    async post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Collected> {
      const res = await fetch(base + url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
      return record(url, res)
    },
    async get(url: string, access?: string, headers: Record<string, string> = {}): Promise<Collected> {
      const res = await fetch(base + url, {
        headers: { ...(access === undefined ? {} : { authorization: `Bearer ${access}` }), ...headers },
      })
      return record(url, res)
    },
    async del(url: string, access: string): Promise<Collected> {
      const res = await fetch(base + url, { method: 'DELETE', headers: { authorization: `Bearer ${access}` } })
      return record(url, res)
    },
    json: (c: Collected) => JSON.parse(c.body) as Record<string, unknown> & { access: string; refresh: string; code: string },
  }
}

/** A signing key made for this run: its PEM for JWT_PRIVATE_KEY, its private `d` to search for. */
async function signingKey(ev: Evidence): Promise<{ pem: string }> {
  // ES256, the default JWT_ALGORITHM (the spawned servers do not set one).
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const pem = await exportPKCS8(privateKey)
  const { d } = await exportJWK(privateKey)
  ev.secret(d!, "signing key's private d")
  ev.secret(Buffer.from(d!, 'base64url').toString('base64').replace(/=+$/, ''), "signing key's d (base64)")
  // The PEM body: its base64 lines hold the private key bytes.
  const body = pem
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('')
  ev.secret(body, 'signing key PEM body')
  // Issue 17: the refresh key derived from it is a secret too.
  refreshSecret(ev, deriveRefreshSecret(Buffer.from(d!, 'base64url')), 'derived refresh key')
  return { pem }
}

/** A refresh key in every form it could be printed in. */
function refreshSecret(ev: Evidence, bytes: Uint8Array, label: string): string {
  const b = Buffer.from(bytes)
  ev.secret(b.toString('base64').replace(/=+$/, ''), `${label} (base64)`)
  ev.secret(b.toString('base64url'), `${label} (base64url)`)
  ev.secret(b.toString('hex'), `${label} (hex)`)
  return `base64:${b.toString('base64')}`
}

/** Bodies of every error answer: no token, key id, store address, stack or secret. */
function assertCleanErrorBodies(ev: Evidence, extra: { kid?: string; addresses: string[] }): number {
  const errors = ev.answers.filter((a) => a.status >= 400)
  for (const a of errors) {
    const where = `${a.url} ${a.status}: ${a.body.slice(0, 200)}`
    assert.deepEqual(ev.found(a.body), [], where)
    for (const [value, label] of ev.notInErrors) assert.ok(!a.body.includes(value), `${label} in ${where}`)
    if (extra.kid !== undefined) assert.ok(!a.body.includes(extra.kid), `kid in ${where}`)
    for (const addr of extra.addresses) assert.ok(!a.body.includes(addr), `store address ${addr} in ${where}`)
    assert.ok(!/\n\s+at\s|\.ts:\d|\.js:\d|node:internal/.test(a.body), `stack in ${where}`)
    // /readyz's 503 is a health report, not an error body: searched above, not shape-checked.
    if (a.body !== '' && a.url !== '/readyz') {
      const json = JSON.parse(a.body) as Record<string, unknown>
      assert.equal(typeof json.code, 'string', where)
      assert.deepEqual(
        Object.keys(json).filter((k) => !['detail', 'code', 'messages', 'request_id'].includes(k)),
        [],
        where,
      )
    }
  }
  return errors.length
}

/**
 * The normal life of a session and the usual mistakes and attacks against it: register, login,
 * refresh, grace replay, reuse, logout, logout-all, revoke one session, bad requests.
 */
async function scenario(base: string, ev: Evidence): Promise<void> {
  const c = client(base, ev)
  const password = 'Correct-Horse-Battery-9'
  const wrong = ['Wrong-Password-Guess-1', 'Another-Wrong-Guess-2']
  ev.secret(password, 'user password')
  wrong.forEach((w, i) => ev.secret(w, `wrong password ${i + 1}`))

  assert.equal((await c.post('/api/auth/register/', { username: 'alice', password })).status, 201)
  assert.equal((await c.post('/api/auth/register/', { username: 'alice', password })).status, 409)
  assert.equal((await c.post('/api/auth/register/', { username: 'bad name\u0000', password: wrong[0] })).status, 400)
  assert.equal((await c.post('/api/auth/token/', { username: 'alice', password: wrong[0] })).status, 401)
  assert.equal((await c.post('/api/auth/token/', { username: 'nobody', password: wrong[1] })).status, 401)

  const p1 = c.json(await c.post('/api/auth/token/', { username: 'alice', password }))
  assert.equal((await c.get('/api/me/', p1.access)).status, 200)
  assert.equal((await c.get('/api/auth/sessions/', p1.access)).status, 200)
  assert.equal((await c.post('/api/auth/verify/', { token: p1.access })).status, 200)
  assert.equal((await c.post('/api/auth/verify/', { token: p1.refresh })).status, 200)

  const p2 = c.json(await c.post('/api/auth/refresh/', { refresh: p1.refresh }))
  const replay = c.json(await c.post('/api/auth/refresh/', { refresh: p1.refresh }))
  // The same successor (SPEC §3.2): the same header and claims; ES256 signatures differ each time.
  const signed = (token: string) => token.slice(0, token.lastIndexOf('.'))
  assert.equal(signed(replay.refresh), signed(p2.refresh), 'grace replay answers the same successor')
  const p3 = c.json(await c.post('/api/auth/refresh/', { refresh: p2.refresh }))
  assert.ok(p3.refresh)
  assert.equal(c.json(await c.post('/api/auth/refresh/', { refresh: p1.refresh })).code, 'token_reused')
  assert.equal(c.json(await c.post('/api/auth/refresh/', { refresh: p3.refresh })).code, 'token_revoked')

  const p4 = c.json(await c.post('/api/auth/login/', { username: 'alice', password }))
  assert.equal((await c.post('/api/auth/logout/', { refresh: p4.refresh })).status, 200)
  assert.equal(c.json(await c.post('/api/auth/refresh/', { refresh: p4.refresh })).code, 'token_revoked')
  assert.equal((await c.post('/api/auth/token/blacklist/', { refresh: p4.refresh })).status, 200)

  const p5 = c.json(await c.post('/api/auth/token/', { username: 'alice', password }))
  const p6 = c.json(await c.post('/api/auth/token/', { username: 'alice', password }))
  const sessions = JSON.parse((await c.get('/api/auth/sessions/', p5.access)).body) as { id: string; current: boolean }[]
  const other = sessions.find((s) => !s.current)!
  assert.equal((await c.del(`/api/auth/sessions/${other.id}/`, p5.access)).status, 204)
  assert.equal(c.json(await c.post('/api/auth/refresh/', { refresh: p6.refresh })).code, 'token_revoked')
  assert.equal((await c.post('/api/auth/logout-all/', {}, { authorization: `Bearer ${p5.access}` })).status, 200)

  // Bad requests, each carrying a live token or a password somewhere.
  const t = p5.access
  const [h, p, s] = t.split('.') as [string, string, string]
  const none = `${b64url(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${p}.`
  const expectations: [Promise<Collected>, number][] = [
    [c.post('/api/auth/refresh/', `{"refresh": "${p5.refresh}"`), 400],
    [c.post('/api/auth/refresh/', JSON.stringify({ refresh: p5.refresh }), { 'content-type': 'text/plain' }), 415],
    [c.post('/api/auth/refresh/', { refresh: p5.refresh, extra: p5.refresh }), 400],
    [c.post('/api/auth/refresh/', { refresh: [p5.refresh] }), 400],
    [c.post('/api/auth/refresh/', { refresh: p5.access }), 401],
    [c.post('/api/auth/refresh/', { refresh: `${p5.refresh}x` }), 401],
    [c.post('/api/auth/verify/', { token: none }), 401],
    [c.post('/api/auth/verify/', { token: `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}` }), 401], // one signature character changed (never the same token)
    [c.post('/api/auth/token/', { username: 'alice', password: { $ne: wrong[0] } }), 400],
    [c.post('/api/auth/token/', `{"username":"alice","password":"${wrong[0]}"`), 400],
    [c.post('/api/auth/token/', { username: 'alice', password: `${wrong[1]}${'x'.repeat(20_000)}` }), 413],
    [c.get('/api/me/', p5.refresh), 401],
    [c.get('/api/me/', none), 401],
    [c.get(`/api/me/?token=${t}&access_token=${t}`), 401],
    [c.get(`/api/nothing/${t}`), 404],
    [c.get('/api/me/', t, { 'x-filler': 'a'.repeat(20_000) }), 431],
  ]
  for (const [promise, status] of expectations) {
    const res = await promise
    assert.equal(res.status, status, `${res.url}: ${res.body}`)
  }
}

describe('secrets: nothing secret reaches the output of a spawned server', () => {
  test('secrets: a whole scenario at LOG_LEVEL=debug (NODE_DEBUG=http too) prints no token, password or signing key', async () => {
    const ev = new Evidence()
    const { pem } = await signingKey(ev)
    const dir = tempDir()
    const BATON_REFRESH_SECRET = refreshSecret(ev, randomBytes(32), 'BATON_REFRESH_SECRET')
    const baton = await spawnBaton({ BATON_DATA_DIR: dir, JWT_PRIVATE_KEY: pem, BATON_REFRESH_SECRET, NODE_DEBUG: 'http' })
    await scenario(baton.base, ev)
    assert.equal(await baton.stop(), 0)
    const out = baton.output()
    // Controls: the run logged at debug and each audit event of the scenario is there.
    for (const event of ['login', 'login_failed', 'rotated', 'grace_hit', 'reused', 'revoked', 'registered'])
      assert.ok(out.includes(`"audit":"${event}"`), `no ${event} audit line`)
    assert.ok(out.includes('HTTP'), 'NODE_DEBUG=http wrote nothing')
    assert.ok(ev.secrets.size > 30, `only ${ev.secrets.size} secrets collected`)
    assert.deepEqual(ev.found(out), [])
    const errors = assertCleanErrorBodies(ev, { kid: ev.kid!, addresses: [dir, 'sqlite:', 'sessions.db'] })
    assert.ok(errors >= 20, `only ${errors} error answers`)
  })

  test('secrets: a quoted REDIS_URL with a password is corrected, the unreachable store answers 503, and the password is never printed (DEBUG=ioredis:*)', async () => {
    const ev = new Evidence()
    ev.secret(REDIS_PASSWORD, 'Redis password')
    const { pem } = await signingKey(ev)
    const baton = await spawnBaton({
      BATON_DATA_DIR: tempDir(),
      JWT_PRIVATE_KEY: pem,
      REDIS_URL: `"redis://default:${REDIS_PASSWORD}@127.0.0.1:1"`,
      DEBUG: 'ioredis:*',
      STORE_TIMEOUT_MS: '200',
    })
    const c = client(baton.base, ev)
    const password = 'Correct-Horse-Battery-9'
    ev.secret(password, 'user password')
    // Users live in the embedded database: registration works, everything session-bound is 503.
    assert.equal((await c.post('/api/auth/register/', { username: 'alice', password })).status, 201)
    for (let i = 0; i < 4; i++) {
      const login = await c.post('/api/auth/token/', { username: 'alice', password })
      assert.equal(login.status, 503, login.body)
      assert.equal(c.json(login).code, 'store_unavailable')
      assert.ok(Number(login.headers.get('retry-after')) >= 1)
    }
    assert.equal((await c.get('/readyz')).status, 503)
    assert.equal((await c.post('/api/auth/refresh/', { refresh: 'a.b.c' })).status, 401)
    assert.equal(await baton.stop(), 0)
    const out = baton.output()
    assert.match(out, /redis:\/\/default:\*\*\*\*@127\.0\.0\.1:1/, 'the corrected, masked URL is shown')
    assert.match(out, /quotes removed|quotes/, 'the correction is named')
    assert.ok(out.includes('store_error') || out.includes('store_down'), 'the outage is logged')
    assert.deepEqual(ev.found(out), [])
    assert.ok(out.includes('baton: DEBUG turns on ioredis debug output'), 'the ioredis DEBUG filter warned')
    assertCleanErrorBodies(ev, { addresses: ['127.0.0.1:1', 'redis://', REDIS_PASSWORD] })
  })

  for (const [label, url] of [
    ['an unencoded @', `redis://default:${REDIS_PASSWORD}@x@127.0.0.1:6380`],
    ['an unencoded #', `redis://default:${REDIS_PASSWORD}#x@127.0.0.1:6380`],
    ['no scheme', `default:${REDIS_PASSWORD}@127.0.0.1:6380`],
    ['a bad port', `redis://default:${REDIS_PASSWORD}@127.0.0.1:99999`],
  ] as const) {
    test(`secrets: an ambiguous REDIS_URL (${label}) stops start-up with exit 78 and never prints its password`, async () => {
      const ev = new Evidence()
      ev.secret(REDIS_PASSWORD, 'Redis password')
      const baton = await spawnBaton({ BATON_DATA_DIR: tempDir(), REDIS_URL: url, DEBUG: 'ioredis:*' }, { waitReady: false })
      assert.equal(await baton.exited, 78, baton.output())
      const out = baton.output()
      assert.match(out, /REDIS_URL/)
      assert.match(out, /fix:/)
      assert.deepEqual(ev.found(out), [], out)
    })
  }

  test('secrets: with Redis (password, DEBUG=ioredis:*), a scenario and a store outage print no secret, and Redis holds no token', async () => {
    // AOF on: the sessions must outlive the crash below, to prove the service recovers.
    const redis = await startRedisServer({ password: REDIS_PASSWORD, aof: true })
    after(() => redis.stop())
    const ev = new Evidence()
    ev.secret(REDIS_PASSWORD, 'Redis password')
    const { pem } = await signingKey(ev)
    const baton = await spawnBaton({
      BATON_DATA_DIR: tempDir(),
      JWT_PRIVATE_KEY: pem,
      REDIS_URL: redis.url,
      DEBUG: 'ioredis:*,baton-test:*',
      STORE_TIMEOUT_MS: '200',
    })
    await scenario(baton.base, ev)

    // Outage: Redis dies; session-bound routes answer 503; it comes back; service recovers.
    const c = client(baton.base, ev)
    const password = 'Correct-Horse-Battery-9'
    const before = c.json(await c.post('/api/auth/token/', { username: 'alice', password }))
    await redis.kill()
    const down = await c.post('/api/auth/refresh/', { refresh: before.refresh })
    assert.equal(down.status, 503, down.body)
    assert.equal((await c.post('/api/auth/token/', { username: 'alice', password })).status, 503)
    assert.equal((await c.get('/api/me/', before.access)).status, 200)
    await redis.restart()
    await waitFor(async () => (await c.post('/api/auth/refresh/', { refresh: before.refresh })).status === 200, 15_000, 'recovery')

    // Redis keys and values: no token, no signature, no password.
    const admin = redis.client()
    let dump = ''
    try {
      const keys = (await admin.keys('*')) as string[]
      assert.ok(
        keys.some((k) => k.includes(':session')),
        `no session keys in ${keys.join(' ')}`,
      )
      for (const key of keys) {
        dump += `${key}\n`
        const type = await admin.type(key)
        if (type === 'hash') dump += JSON.stringify(await admin.hgetall(key))
        else if (type === 'zset') dump += JSON.stringify(await admin.zrange(key, 0, -1, 'WITHSCORES'))
        else if (type === 'string') dump += String(await admin.get(key))
        else if (type === 'set') dump += JSON.stringify(await admin.smembers(key))
        else if (type === 'list') dump += JSON.stringify(await admin.lrange(key, 0, -1))
        else dump += `(${type})`
        dump += '\n'
      }
    } finally {
      admin.disconnect()
    }
    const tokenSecrets = [...ev.secrets].filter(([, label]) => label.includes('token') || label.includes('password'))
    assert.ok(tokenSecrets.length > 20)
    assert.deepEqual(
      tokenSecrets.filter(([value]) => dump.includes(value)).map(([, label]) => label),
      [],
    )

    assert.equal(await baton.stop(), 0)
    const out = baton.output()
    assert.ok(out.includes('"audit":"reused"') && out.includes('"audit":"grace_hit"'), 'scenario audits missing')
    assert.ok(/store_down|store_error/.test(out), 'the outage is not logged')
    assert.deepEqual(ev.found(out), [])
    assert.ok(!out.includes('ioredis:redis'), 'ioredis debug lines were printed')
    assert.ok(out.includes('baton: DEBUG turns on ioredis debug output'), 'the ioredis DEBUG filter warned')
    assertCleanErrorBodies(ev, { kid: ev.kid!, addresses: [`127.0.0.1:${redis.port}`, 'redis://', 'rediss://'] })
  })
})

test('secrets: the simplejwt signing key (SPEC §9 cut-over) appears in no output, and neither do legacy tokens', async () => {
  const key = 'django-insecure-s3cr3t-cutover-key-!@#$%^&*(-_=+)abcdefghij'
  const baton = await spawnBaton({ BATON_DATA_DIR: tempDir(), SIMPLEJWT_SIGNING_KEY: key, NODE_DEBUG: 'http' })
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const now = Math.floor(Date.now() / 1000)
  const payload = b64url(JSON.stringify({ token_type: 'refresh', exp: now + 600, iat: now, jti: 'a'.repeat(32), user_id: 999 }))
  const { createHmac } = await import('node:crypto')
  const legacy = `${header}.${payload}.${createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url')}`
  const answers: string[] = []
  for (const refresh of [legacy, `${legacy.slice(0, -2)}AA`]) {
    const res = await fetch(`${baton.base}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh }),
    })
    answers.push(`${res.status} ${await res.text()}`)
  }
  assert.match(answers[0]!, /^401 .*token_not_valid/, 'a validly signed token of an unknown user')
  await baton.stop()
  const text = baton.output() + answers.join('\n')
  for (const [value, label] of [
    [key, 'SIMPLEJWT_SIGNING_KEY'],
    [legacy, 'the legacy token'],
    [legacy.split('.')[2]!, 'its signature'],
  ] as const)
    assert.ok(!text.includes(value), `${label} was printed`)

  const bad = await spawnBaton(
    { BATON_DATA_DIR: tempDir(), SIMPLEJWT_SIGNING_KEY: `not a pem ${key}`, SIMPLEJWT_ALGORITHM: 'RS256' },
    { waitReady: false },
  )
  assert.equal(await bad.exited, 78, 'an unusable key is a configuration problem')
  assert.match(bad.output(), /SIMPLEJWT_SIGNING_KEY/)
  assert.ok(!bad.output().includes(key), 'the refused key is not echoed')
})
