/**
 * `node --import tsx bench/login-storm.ts`: issue 15's login storm, end to end. The built CLI in
 * production mode on the default (SQLite) store; every user hashed at the default OWASP scrypt
 * cost. Refresh chains and protected calls run paced throughout; 200 logins arrive at once, each
 * client giving up after 15 s, and one more login comes 1 s later. Prints one JSON line: the
 * storm's answered/shed/unanswered counts, and refresh and protected p50/p99 during the storm
 * against the same lanes unloaded just before and just after it (one run, interleaved).
 * Never part of the tests; see bench/README.md for figures.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKey } from '../packages/server/src/tokens/keys.js'
import { createSqliteUserStore } from '../packages/server/src/users/sqlite.js'
import { DEFAULT_SCRYPT_PARAMS, hashPassword } from '../packages/server/src/users/password.js'
import { Connection, type RawResponse, buildRequest } from './lib/http-client.js'
import { sleep } from './lib/load.js'
import { loadAverage } from './lib/proc.js'
import { ROOT, startServer } from './lib/server.js'
import { PASSWORD } from './lib/users.js'

const { values: flags } = parseArgs({
  options: {
    logins: { type: 'string', default: '200' },
    'give-up': { type: 'string', default: '15' },
    lanes: { type: 'string', default: '8' },
    'interval-ms': { type: 'string', default: '20' },
    'unloaded-s': { type: 'string', default: '5' },
    workers: { type: 'string' },
    server: { type: 'string', default: 'packages/server/dist/cli/main.js' },
    'no-build': { type: 'boolean', default: false },
  },
})
const LOGINS = Number(flags.logins)
const GIVE_UP_MS = Number(flags['give-up']) * 1000
const LANES = Number(flags.lanes)
const INTERVAL_MS = Number(flags['interval-ms'])
const UNLOADED_MS = Number(flags['unloaded-s']) * 1000
const TUNABLE = /^(BATON_LOGIN_|LOGIN_RATE_LIMIT$|BATON_STORE$|REDIS_URL$)/
const log = (s: string): void => void process.stderr.write(`${s}\n`)

type Phase = 'unloaded' | 'storm'
type Kind = 'refresh' | 'protected'
const samples: Record<Kind, Record<Phase, number[]>> = { refresh: { unloaded: [], storm: [] }, protected: { unloaded: [], storm: [] } }
const failures: Record<Kind, Record<string, number>> = { refresh: {}, protected: {} }
let phase: Phase | null = null
let stopLanes = false

function quantiles(xs: number[]): { n: number; p50: number; p99: number } {
  const d = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => (d.length === 0 ? 0 : d[Math.min(d.length - 1, Math.floor(q * d.length))]!)
  return { n: d.length, p50: round(at(0.5)), p99: round(at(0.99)) }
}
const round = (x: number): number => Math.round(x * 100) / 100

function login(username: string): Buffer {
  return buildRequest('POST', '/api/auth/token/', { body: { username, password: PASSWORD } })
}

/** One paced lane: a request every INTERVAL_MS (the next at once when an answer is later). */
async function lane(port: number, kind: Kind, session: { access: string; refresh: string }): Promise<void> {
  const conn = await Connection.open(port)
  let refresh = session.refresh
  const me = buildRequest('GET', '/api/me/', { headers: { authorization: `Bearer ${session.access}` } })
  while (!stopLanes) {
    const t0 = performance.now()
    const req = kind === 'protected' ? me : buildRequest('POST', '/api/auth/refresh/', { body: { refresh } })
    const res = await conn.send(req)
    const ms = performance.now() - t0
    if (res.status === 200) {
      if (phase !== null) samples[kind][phase].push(ms)
      if (kind === 'refresh') refresh = (JSON.parse(res.body.toString()) as { refresh: string }).refresh
    } else {
      failures[kind][res.status] = (failures[kind][res.status] ?? 0) + 1
      if (res.status === 401) break // a broken chain: reported, not retried
    }
    await sleep(Math.max(0, INTERVAL_MS - (performance.now() - t0)))
  }
  conn.close()
}

/** Sends on its own connection; gives up (closes it) after GIVE_UP_MS, as a browser would. */
async function patientLogin(port: number, username: string): Promise<{ status: number | 'unanswered'; code?: string; ms: number }> {
  const conn = await Connection.open(port)
  return sendWithin(conn, login(username))
}

async function sendWithin(conn: Connection, req: Buffer): Promise<{ status: number | 'unanswered'; code?: string; ms: number }> {
  const t0 = performance.now()
  let timer: NodeJS.Timeout | undefined
  const gaveUp = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), GIVE_UP_MS)))
  const res: RawResponse | null = await Promise.race([conn.send(req).catch(() => null), gaveUp])
  clearTimeout(timer)
  conn.close()
  const ms = round(performance.now() - t0)
  if (res === null) return { status: 'unanswered', ms }
  let code: string | undefined
  try {
    code = (JSON.parse(res.body.toString()) as { code?: string }).code
  } catch {
    // not JSON
  }
  return { status: res.status, ...(code === undefined ? {} : { code }), ms }
}

async function main(): Promise<void> {
  const started = new Date().toISOString()
  const loadBefore = loadAverage()
  if (!flags['no-build']) {
    log('login-storm: building')
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/client', 'packages/server'], {
      cwd: ROOT,
      stdio: 'inherit',
    })
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-storm-'))
  try {
    log('login-storm: seeding users (default OWASP scrypt hash)')
    const users = await createSqliteUserStore({ file: join(dataDir, 'users.db') })
    const hash = await hashPassword(PASSWORD, DEFAULT_SCRYPT_PARAMS)
    for (let i = 0; i < LOGINS; i++) await users.createUser({ username: `storm-${i}`, passwordHash: hash, now: Date.now() })
    for (let i = 0; i < LANES; i++) await users.createUser({ username: `lane-${i}`, passwordHash: hash, now: Date.now() })
    await users.createUser({ username: 'probe', passwordHash: hash, now: Date.now() })
    await users.close()

    const { privateJWK } = await generateKey('ES256')
    const env: Record<string, string> = {
      BATON_MODE: 'production',
      BATON_DATA_DIR: dataDir,
      JWT_PRIVATE_KEY: JSON.stringify(privateJWK),
      LOG_LEVEL: 'error',
      // Everything comes from one address: the per-address limit would refuse the storm itself.
      LOGIN_RATE_LIMIT_IP: 'off',
      ...(flags.workers === undefined ? {} : { WORKERS: flags.workers }),
      // BATON_LOGIN_* and LOGIN_RATE_LIMIT from the bench's own environment, to try other settings.
      ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => TUNABLE.test(e[0]) && e[1] !== undefined)),
    }
    const workers = Number(flags.workers ?? availableParallelism())
    log(`login-storm: starting ${flags.server} (production, sqlite, WORKERS=${workers})`)
    const server = await startServer([flags.server, 'serve'], env, workers)
    try {
      const sessions: { access: string; refresh: string }[] = []
      for (let i = 0; i < LANES; i++) {
        const c = await Connection.open(server.port)
        const res = await c.send(login(`lane-${i}`))
        c.close()
        if (res.status !== 200) throw new Error(`lane login ${res.status} ${res.body.toString()}`)
        sessions.push(JSON.parse(res.body.toString()) as { access: string; refresh: string })
      }
      const lanes = [...sessions.map((s) => lane(server.port, 'refresh', s)), ...sessions.map((s) => lane(server.port, 'protected', s))]
      await sleep(1000) // warm-up, not recorded
      log('login-storm: unloaded window (before)')
      phase = 'unloaded'
      await sleep(UNLOADED_MS)

      log(`login-storm: ${LOGINS} logins at once`)
      const conns = await Promise.all(Array.from({ length: LOGINS }, () => Connection.open(server.port)))
      phase = 'storm'
      const t0 = performance.now()
      const storm = conns.map((c, i) => sendWithin(c, login(`storm-${i}`)))
      const probe = sleep(1000).then(() => patientLogin(server.port, 'probe'))
      const results = await Promise.all(storm)
      const probeResult = await probe
      const stormSeconds = round((performance.now() - t0) / 1000)
      phase = null
      await sleep(2000) // the server settles (and, before issue 15, computes for gone clients)
      log('login-storm: unloaded window (after)')
      phase = 'unloaded'
      await sleep(UNLOADED_MS)
      phase = null
      stopLanes = true
      await Promise.all(lanes)

      const statuses: Record<string, number> = {}
      for (const r of results) {
        const k = r.status === 'unanswered' ? 'unanswered' : `${r.status}${r.code === undefined ? '' : ` ${r.code}`}`
        statuses[k] = (statuses[k] ?? 0) + 1
      }
      const answered = results.filter((r) => r.status !== 'unanswered')
      const ratio = (kind: Kind): Record<string, unknown> => {
        const u = quantiles(samples[kind].unloaded)
        const s = quantiles(samples[kind].storm)
        return { unloaded: u, storm: s, ratio: { p50: round(s.p50 / u.p50), p99: round(s.p99 / u.p99) }, failures: failures[kind] }
      }
      const summary = {
        bench: 'login-storm',
        started,
        server: flags.server,
        node: process.version,
        cores: cpus().length,
        loadAverage: { before: loadBefore, after: loadAverage() },
        store: 'sqlite',
        workers,
        settings: Object.fromEntries(Object.entries(env).filter(([k]) => TUNABLE.test(k))),
        scrypt: DEFAULT_SCRYPT_PARAMS,
        logins: LOGINS,
        giveUpSeconds: GIVE_UP_MS / 1000,
        answered: answered.length,
        ok: statuses['200'] ?? 0,
        shed: statuses['503 login_busy'] ?? 0,
        unanswered: statuses.unanswered ?? 0,
        statuses,
        answerMs: quantiles(answered.map((r) => r.ms)),
        stormSeconds,
        loginOneSecondLater: probeResult,
        refresh: ratio('refresh'),
        protected: ratio('protected'),
      }
      process.stdout.write(JSON.stringify(summary) + '\n')
    } finally {
      await server.stop()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
