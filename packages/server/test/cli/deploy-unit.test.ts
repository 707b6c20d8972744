/**
 * The deployment example (deploy/baton.service, deploy/nginx.conf), run as systemd and nginx
 * would run it. systemd does not run in this container, so the test does its part: it parses
 * the unit, runs its ExecStart (the repository's built CLI in place of the install path) with
 * exactly its Environment= lines, plus a test key, a real redis-server and a free port, checks
 * /readyz in production mode, puts the real nginx with deploy/nginx.conf (TLS, test CA) in
 * front, and sends the unit's KillSignal to the main process only (KillMode=mixed), expecting a
 * clean exit within TimeoutStopSec. `systemd-analyze verify` checks the unit's syntax.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { promisify } from 'node:util'
import { startNginxServers } from '../helpers/nginx.js'
import { freePort, makeTestTLS, startRedisServer, waitFor } from '../helpers/redis-server.js'
import { runProcess } from '../helpers/run-process.js'
import { ROOT } from './run-cli.js'

const run = promisify(execFile)
const UNIT = join(ROOT, 'deploy/baton.service')
const NGINX_CONF = join(ROOT, 'deploy/nginx.conf')
const ENV_EXAMPLE = join(ROOT, 'deploy/baton.env.example')
const INSTALLED_CLI = '/usr/local/bin/baton'
/** The command `npm install -g` links as /usr/local/bin/baton (needs `npm run build`). */
const BUILT_CLI = join(ROOT, 'packages/server/bin/baton.js')

type Unit = Map<string, Map<string, string[]>>

/** systemd's unit syntax: [Section], Key=Value (repeatable), # and ; comments, `\` continuations. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map()
  let section: Map<string, string[]> | null = null
  const lines = text.replace(/\\\n/g, ' ').split('\n')
  for (const raw of lines) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      section = unit.get(header[1]!) ?? new Map()
      unit.set(header[1]!, section)
      continue
    }
    const eq = line.indexOf('=')
    assert.ok(section !== null && eq > 0, `not a unit line: ${line}`)
    const key = line.slice(0, eq).trim()
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()])
  }
  return unit
}

/** The one value of a key ([Service] unless named); fails when it is missing. */
function one(unit: Unit, key: string, section = 'Service'): string {
  const values = unit.get(section)?.get(key)
  assert.ok(values !== undefined && values.length > 0, `${UNIT}: no ${key}= in [${section}]`)
  return values.at(-1)!
}

/** Words of a systemd command line or Environment= value: whitespace-separated, quotes removed. */
function words(value: string): string[] {
  const out: string[] = []
  for (const m of value.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!)
  return out
}

/** Every Environment= assignment, in order (a later one wins, as in systemd). */
function environment(unit: Unit): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of unit.get('Service')?.get('Environment') ?? []) {
    for (const word of words(line)) {
      const eq = word.indexOf('=')
      assert.ok(eq > 0, `Environment= entry without "=": ${word}`)
      env[word.slice(0, eq)] = word.slice(eq + 1)
    }
  }
  return env
}

/** systemd's time span for TimeoutStopSec: a bare number is seconds; also "30s", "1min 30s". */
function seconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, ms: 0.001 }
  let total = 0
  for (const m of span.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)) {
    assert.ok(m[2]! in units, `time unit ${m[2]} in ${span}`)
    total += Number(m[1]) * units[m[2]!]!
  }
  return total
}

function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** An HTTPS request to nginx from `localAddress`, trusting only the test CA. */
function https(
  url: string,
  options: { ca: string; localAddress: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', ca: options.ca, localAddress: options.localAddress, headers: options.headers, agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** deploy/nginx.conf with this test's ports and certificate, each substitution made exactly once. */
function nginxServerBlocks(conf: string, subs: [RegExp, string][]): string {
  let out = conf
  for (const [pattern, replacement] of subs) {
    const hits = out.match(new RegExp(pattern.source, 'gm'))?.length ?? 0
    assert.equal(hits, 1, `deploy/nginx.conf: expected one line matching ${pattern}, found ${hits}`)
    out = out.replace(new RegExp(pattern.source, 'm'), replacement)
  }
  return out
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  return exited
}

const unitText = readFileSync(UNIT, 'utf8')
const unit = parseUnit(unitText)

test('deploy unit: ExecStart, environment, restart, stop and hardening settings', () => {
  const exec = words(one(unit, 'ExecStart'))
  assert.deepEqual(exec, [INSTALLED_CLI, 'serve'])
  const env = environment(unit)
  assert.equal(env.BATON_MODE, 'production')
  for (const name of ['JWT_PRIVATE_KEY_FILE', 'BATON_TRUST_PROXY', 'WORKERS', 'BATON_DATA_DIR', 'PORT', 'HOST'])
    assert.ok(env[name] !== undefined && env[name] !== '', `Environment=${name}=… is set`)
  assert.notEqual(env.BATON_TRUST_PROXY, 'true', 'production refuses BATON_TRUST_PROXY=true')
  // Passwords stay out of the unit (world-readable, and in `systemctl show`).
  assert.equal(env.REDIS_URL, undefined)
  assert.equal(env.DATABASE_URL, undefined)
  assert.ok(one(unit, 'EnvironmentFile').startsWith('/etc/baton/'))
  const example = readFileSync(ENV_EXAMPLE, 'utf8')
  assert.match(example, /^REDIS_URL=rediss:\/\//m)
  assert.match(example, /^DATABASE_URL=postgres:\/\//m)
  assert.equal(one(unit, 'Restart'), 'on-failure')
  assert.equal(one(unit, 'KillSignal'), 'SIGTERM')
  assert.equal(one(unit, 'KillMode'), 'mixed', 'the primary forwards SIGTERM to its workers')
  assert.ok(seconds(one(unit, 'TimeoutStopSec')) >= 10)
  assert.equal(one(unit, 'NoNewPrivileges'), 'yes')
  assert.equal(one(unit, 'ProtectSystem'), 'strict')
  assert.ok(words(one(unit, 'ReadWritePaths')).includes(env.BATON_DATA_DIR!), 'the data folder is writable under ProtectSystem=strict')
  assert.equal(one(unit, 'WorkingDirectory'), env.BATON_DATA_DIR)
})

test('deploy unit: systemd-analyze verify reports nothing', async (t) => {
  const analyze = await run('systemd-analyze', ['--version']).then(
    () => true,
    () => false,
  )
  if (!analyze) return t.skip('systemd-analyze is not installed (Debian package systemd)')
  const dir = tempDir(t, 'baton-deploy-verify-')
  const file = join(dir, 'baton.service')
  // verify checks that ExecStart's command exists and is executable: use the built one.
  writeFileSync(file, unitText.replace(`ExecStart=${INSTALLED_CLI} `, `ExecStart=${BUILT_CLI} `))
  const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', file]).catch((err: { stdout: string; stderr: string }) => {
    assert.fail(`systemd-analyze verify failed:\n${err.stderr}`)
  })
  // It exits 0 on unknown keys and unparsable values (it ignores them), so any output is a failure.
  assert.equal(`${stdout}${stderr}`, '')
})

test(
  'deploy unit: ExecStart with its environment serves production behind deploy/nginx.conf and stops cleanly on KillSignal',
  { timeout: 120_000 },
  async (t) => {
    const env = environment(unit)
    const redis = await startRedisServer({ password: 'deploy-test-pw' })
    t.after(() => redis.stop())
    const dataDir = tempDir(t, 'baton-deploy-data-')
    const keyFile = join(dataDir, 'es256.pem')
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    })
    const port = await freePort()
    // The unit's Environment= lines, then what differs on this machine (paths and port) and what
    // the EnvironmentFile would add (REDIS_URL; users stay in the embedded file: no DATABASE_URL).
    const serviceEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...env,
      PORT: String(port),
      BATON_DATA_DIR: dataDir,
      JWT_PRIVATE_KEY_FILE: keyFile,
      REDIS_URL: redis.url,
    }

    // A user, as an operator makes one (registration is off in production).
    const add = await runProcess(BUILT_CLI, ['users', 'add', 'operator', '--password-stdin'], {
      cwd: dataDir,
      env: { PATH: serviceEnv.PATH, BATON_DATA_DIR: dataDir, PASSWORD_SCRYPT_LN: '10' },
      input: 'correct horse battery staple\n',
    })
    assert.equal(add.code, 0, add.stderr)

    const [cmd, ...args] = words(one(unit, 'ExecStart'))
    assert.equal(cmd, INSTALLED_CLI)
    const child = spawn(BUILT_CLI, args, { cwd: dataDir, env: serviceEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
    )
    t.after(() => stopChild(child, 'SIGKILL'))
    await Promise.race([
      waitFor(() => /baton is running at/.test(output), 30_000, 'baton is running'),
      exited.then(({ code }) => assert.fail(`baton exited (${code}) before it ran:\n${output}`)),
    ])
    const direct = `http://127.0.0.1:${port}`
    const ready = await fetch(`${direct}/readyz`)
    const readyBody = (await ready.json()) as { store: { kind: string; state: string } }
    assert.equal(ready.status, 200, JSON.stringify(readyBody))
    assert.equal(readyBody.store.kind, 'redis')
    // Production mode: no registration, no demo page.
    assert.equal(
      (
        await fetch(`${direct}/api/auth/register/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"username":"x","password":"y"}',
        })
      ).status,
      404,
    )
    assert.equal((await fetch(`${direct}/`)).status, 404)

    // nginx with deploy/nginx.conf: the upstream is the unit's HOST:PORT, moved to this test's port.
    const tls = await makeTestTLS(tempDir(t, 'baton-deploy-tls-'))
    const httpPort = await freePort()
    const tlsPort = await freePort()
    const nginx = await startNginxServers(
      nginxServerBlocks(readFileSync(NGINX_CONF, 'utf8'), [
        [/^\s*listen 80;$/, `    listen 127.0.0.1:${httpPort};`],
        [/^\s*listen \[::\]:80;$/, ''],
        [/^\s*listen 443 ssl http2;$/, `    listen 127.0.0.1:${tlsPort} ssl http2;`],
        [/^\s*listen \[::\]:443 ssl http2;$/, ''],
        [/^\s*ssl_certificate\s.*$/, `    ssl_certificate ${tls.certFile};`],
        [/^\s*ssl_certificate_key\s.*$/, `    ssl_certificate_key ${tls.keyFile};`],
        [new RegExp(`^\\s*server ${env.HOST!.replace(/\./g, '\\.')}:${env.PORT};$`), `    server 127.0.0.1:${port};`],
      ]),
      [httpPort, tlsPort],
    )
    t.after(() => nginx.stop())
    const front = `https://localhost:${tlsPort}`
    // The client connects from 127.0.0.2 and claims another address; nginx appends 127.0.0.2.
    const client = { ca: tls.ca, localAddress: '127.0.0.2' }
    await waitFor(async () => (await https(`${front}/readyz`, client)).status === 200, 10_000, 'nginx to proxy /readyz')
    const login = await https(`${front}/api/auth/token/`, {
      ...client,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify({ username: 'operator', password: 'correct horse battery staple' }),
    })
    assert.equal(login.status, 200, login.body)
    const { access } = JSON.parse(login.body) as { access: string }
    // Straight to baton, bypassing nginx, from an address BATON_TRUST_PROXY does not name.
    const bypass = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ username: 'operator', password: 'correct horse battery staple' })
      const req = httpRequest(
        `${direct}/api/auth/token/`,
        { method: 'POST', localAddress: '127.0.0.3', headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' } },
        (res) => {
          res.resume().on('end', () => resolve(res.statusCode ?? 0))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
    assert.equal(bypass, 200)
    const sessions = await https(`${front}/api/auth/sessions/`, { ...client, headers: { authorization: `Bearer ${access}` } })
    assert.equal(sessions.status, 200, sessions.body)
    const ips = (JSON.parse(sessions.body) as { ip: string }[]).map((s) => s.ip).sort()
    assert.deepEqual(
      ips,
      ['127.0.0.2', '127.0.0.3'],
      'the address nginx saw, and the socket address of a direct caller; never the claimed one',
    )
    const redirect = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { redirect: 'manual' })
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.get('location'), `https://127.0.0.1/readyz`)

    // systemd with KillMode=mixed: KillSignal to the main process only, SIGKILL after TimeoutStopSec.
    const limit = seconds(one(unit, 'TimeoutStopSec')) * 1000
    const signalledAt = performance.now()
    child.kill(one(unit, 'KillSignal') as NodeJS.Signals)
    const killer = setTimeout(() => child.kill('SIGKILL'), limit)
    const end = await exited
    clearTimeout(killer)
    const took = end.at - signalledAt
    t.diagnostic(`stopped ${took.toFixed(0)} ms after ${one(unit, 'KillSignal')} (TimeoutStopSec ${limit / 1000} s)`)
    assert.deepEqual({ code: end.code, signal: end.signal }, { code: 0, signal: null }, output)
    assert.ok(took < limit, `stopped in ${took} ms, over TimeoutStopSec`)
    assert.equal(
      (output.match(/shutting down: finishing in-flight requests/g) ?? []).length,
      Number(env.WORKERS),
      'each worker shut down once',
    )
    assert.doesNotMatch(output, /deploy-test-pw/, 'the Redis password reaches no output')
  },
)
