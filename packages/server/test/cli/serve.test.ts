import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { startRedisServer } from '../helpers/redis-server.js'
import { type Served, runCLI, startServe } from './run-cli.js'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-serve-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function serve(t: TestContext, env: Record<string, string>): Promise<Served> {
  const served = await startServe({ PORT: '0', ...env })
  t.after(() => {
    if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill('SIGKILL')
  })
  return served
}

async function stop(served: Served): Promise<number | null> {
  served.child.kill('SIGTERM')
  return served.exited
}

async function postJSON(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as Record<string, string> }
}

test('serve: with no configuration it starts, prints its URL, answers /healthz and exits 0 on SIGTERM', async (t) => {
  const dir = tempDir(t)
  const served = await serve(t, { BATON_DATA_DIR: dir })
  assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const res = await fetch(`${served.url}/healthz`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { status: 'ok' })
  assert.match(served.output(), /development signing key/)
  assert.equal(await stop(served), 0)
})

test('serve: SIGTERM lets an in-flight request finish before exiting 0', async (t) => {
  const dir = tempDir(t)
  const served = await serve(t, { BATON_DATA_DIR: dir })
  const { port, hostname } = new URL(served.url)
  const body = JSON.stringify({ username: 'nobody', password: 'some password' })
  const answer = new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
    const req = request({
      host: hostname,
      port,
      method: 'POST',
      path: '/api/auth/token/',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
    })
    req.on('error', reject)
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection }))
    })
    // "100 Continue" means the server has parsed the headers: the request is in flight.
    // Shutdown starts before the body is even sent.
    req.on('continue', () => {
      served.child.kill('SIGTERM')
      served.waitFor(/shutting down/).then(() => req.end(body), reject)
    })
    req.flushHeaders()
  })
  const res = await answer
  assert.equal(res.status, 401)
  assert.equal((JSON.parse(res.body) as { code: string }).code, 'invalid_credentials')
  // The answer closes its connection, so an idle keep-alive socket cannot hold shutdown open.
  assert.equal(res.connection, 'close')
  assert.equal(await served.exited, 0)
  const out = served.output()
  assert.ok(out.indexOf('shutting down') < out.indexOf('"login_failed"'), 'the login finished before shutdown began')
})

test('serve: an invalid variable (PORT=abc) exits 78 with a message naming PORT', async (t) => {
  const dir = tempDir(t)
  const { code, stderr } = await runCLI(['serve'], { PORT: 'abc', BATON_DATA_DIR: dir })
  assert.equal(code, 78)
  assert.match(stderr, /PORT/)
  assert.match(stderr, /abc/)
})

test('serve: production without a key exits 78 naming JWT_PRIVATE_KEY', async (t) => {
  const dir = tempDir(t)
  const { code, stderr } = await runCLI(['serve'], { BATON_MODE: 'production', BATON_DATA_DIR: dir })
  assert.equal(code, 78)
  assert.match(stderr, /JWT_PRIVATE_KEY/)
})

test('serve: an unusable key in JWT_VERIFY_KEYS exits 78 naming it', async (t) => {
  const dir = tempDir(t)
  // An Ed25519 public key without "alg" while the server signs ES256.
  const okp = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }
  const { code, stderr } = await runCLI(['serve'], {
    BATON_DATA_DIR: dir,
    JWT_ALGORITHM: 'ES256',
    JWT_VERIFY_KEYS: JSON.stringify({ keys: [okp] }),
  })
  assert.equal(code, 78)
  assert.match(stderr, /JWT_VERIFY_KEYS/)
})

test('serve: several configuration problems are all printed, and an unknown flag is a usage error', async (t) => {
  const dir = tempDir(t)
  const many = await runCLI(['serve'], { PORT: 'abc', LOG_LEVEL: 'loud', BATON_DATA_DIR: dir })
  assert.equal(many.code, 78)
  assert.match(many.stderr, /PORT/)
  assert.match(many.stderr, /LOG_LEVEL/)
  const flag = await runCLI(['serve', '--no-such-flag'], { BATON_DATA_DIR: dir })
  assert.equal(flag.code, 2)
})

test('serve: --help prints the usage and exits 0', async () => {
  const { code, stdout } = await runCLI(['serve', '--help'])
  assert.equal(code, 0)
  assert.match(stdout, /Usage: baton serve/)
})

test('serve: the development key is created with mode 0600 and reused; tokens and sqlite sessions survive a restart', async (t) => {
  const dir = tempDir(t)
  const first = await serve(t, { BATON_DATA_DIR: dir })
  const registered = await postJSON(`${first.url}/api/auth/register/`, { username: 'alice', password: 'correct horse battery' })
  assert.equal(registered.status, 201)
  const login = await postJSON(`${first.url}/api/auth/token/`, { username: 'alice', password: 'correct horse battery' })
  assert.equal(login.status, 200)
  assert.equal(await stop(first), 0)
  const keyFile = join(dir, 'dev-key-ES256.json')
  assert.equal(statSync(keyFile).mode & 0o777, 0o600)
  const { mtimeMs } = statSync(keyFile)

  const second = await serve(t, { BATON_DATA_DIR: dir })
  assert.equal(statSync(keyFile).mtimeMs, mtimeMs, 'the key file was rewritten')
  const me = await fetch(`${second.url}/api/me/`, { headers: { authorization: `Bearer ${login.body.access}` } })
  assert.equal(me.status, 200)
  assert.equal(((await me.json()) as { username: string }).username, 'alice')
  const refreshed = await postJSON(`${second.url}/api/auth/refresh/`, { refresh: login.body.refresh })
  assert.equal(refreshed.status, 200)
  assert.ok(typeof refreshed.body.refresh === 'string')
  assert.equal(await stop(second), 0)
})

test('serve: a data folder with the old default EdDSA development key starts on a new ES256 key; the old tokens no longer verify (a re-login)', async (t) => {
  const dir = tempDir(t)
  const old = await serve(t, { BATON_DATA_DIR: dir, JWT_ALGORITHM: 'EdDSA' })
  assert.equal((await postJSON(`${old.url}/api/auth/register/`, { username: 'alice', password: 'correct horse battery' })).status, 201)
  const before = await postJSON(`${old.url}/api/auth/token/`, { username: 'alice', password: 'correct horse battery' })
  assert.equal(before.status, 200)
  assert.equal(await stop(old), 0)
  const oldKey = readFileSync(join(dir, 'dev-key-EdDSA.json'), 'utf8')

  // The upgrade: JWT_ALGORITHM unset, so ES256 (SPEC §9), with its own key file beside the old one.
  const upgraded = await serve(t, { BATON_DATA_DIR: dir })
  assert.equal(readFileSync(join(dir, 'dev-key-EdDSA.json'), 'utf8'), oldKey, 'the old key file is left alone')
  assert.equal(statSync(join(dir, 'dev-key-ES256.json')).mode & 0o777, 0o600)
  const jwks = (await (await fetch(`${upgraded.url}/.well-known/jwks.json`)).json()) as { keys: { alg: string; crv: string }[] }
  assert.deepEqual(
    jwks.keys.map((k) => [k.alg, k.crv]),
    [['ES256', 'P-256']],
  )
  const me = await fetch(`${upgraded.url}/api/me/`, { headers: { authorization: `Bearer ${before.body.access}` } })
  assert.equal(me.status, 401)
  assert.equal((await postJSON(`${upgraded.url}/api/auth/refresh/`, { refresh: before.body.refresh })).body.code, 'token_not_valid')
  // The users are kept: logging in again is all it takes.
  const after = await postJSON(`${upgraded.url}/api/auth/token/`, { username: 'alice', password: 'correct horse battery' })
  assert.equal(after.status, 200)
  assert.equal(JSON.parse(Buffer.from(after.body.access!.split('.')[0]!, 'base64url').toString()).alg, 'ES256')
  assert.equal(await stop(upgraded), 0)
})

test('serve: a password Redis does not require gives one JSON warning (masked URL) and no raw [WARN] line, also after a reconnect', async (t) => {
  const redis = await startRedisServer()
  t.after(() => redis.stop())
  const password = 'n0t-needed-s3cret'
  const served = await serve(t, {
    BATON_DATA_DIR: tempDir(t),
    BATON_STORE: 'redis',
    REDIS_URL: `redis://:${password}@127.0.0.1:${redis.port}`,
  })
  await served.waitFor(/"check":"redis\.auth"/)
  // Every connection authenticates again: a reconnect is where ioredis would print once more.
  await redis.command('CLIENT', 'KILL', 'TYPE', 'normal')
  await served.waitFor(/redis recovered|"msg":"redis connected"[\s\S]*"msg":"redis connected"/)
  assert.equal(await stop(served), 0)
  const lines = served
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '')
  const raw = lines.filter((l) => !l.startsWith('{') && !l.startsWith('baton is running at '))
  assert.deepEqual(raw, [], 'every line but the banner is JSON')
  const warnings = lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === 40 && /password/i.test(String(l.msg)))
  assert.equal(warnings.length, 1, JSON.stringify(warnings))
  assert.match(String(warnings[0]!.msg), /carries a password but Redis has none configured/)
  assert.match(String(warnings[0]!.url), /^redis:\/\/:\*\*\*\*@127\.0\.0\.1:\d+/)
  assert.ok(!served.output().includes(password), 'the password is never printed')
})
