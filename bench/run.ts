/**
 * `npm run bench`: baton's cost per request on this machine, next to the ceilings set by the
 * HTTP stack and the cryptography. Starts everything itself (the server as a child process on a
 * free port, redis-server on a free port), prints a table, then one JSON line last.
 * Never part of the tests. See bench/README.md for the figures and what limits them.
 */
import { rotationLane } from './lib/lanes.js'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Algorithm } from '../packages/server/src/config.js'
import { generateKey } from '../packages/server/src/tokens/keys.js'
import type { CryptoCeiling } from './crypto-ceiling.js'
import { type RawResponse, buildRequest } from './lib/http-client.js'
import { type Lane, type LoadResult, runLoad } from './lib/load.js'
import { type CpuProbe, loadAverage } from './lib/proc.js'
import { type BenchRedis, commandStats, sessionBytes, startMonitor, startRedis, statsDelta } from './lib/redis.js'
import { ROOT, type ServerProcess, startServer } from './lib/server.js'
import { FAST_USER, OWASP_USER, PASSWORD, SETUP_SCRYPT, seedUsers, sessionUser } from './lib/users.js'

const HELP = `Usage: npm run bench -- [options]

  --duration S          timed window per mode, seconds            (default 10)
  --warmup S            warm-up before each window, seconds       (default 2)
  --connections N       concurrent sessions / connections         (default 64)
  --login-connections N concurrent logins in the login modes      (default 4)
  --modes LIST          refresh,protected,login,login-fast,static (default all)
  --stores LIST         memory,sqlite,redis                       (default all)
  --algs LIST           EdDSA,ES256,RS256,HS256                   (default all)
  --workers LIST        server WORKERS values                     (default 1,<cores>)
  --full                every store x algorithm x workers; by default algorithms after the
                        first are measured on the last store with the most workers only,
                        and the login modes with the first algorithm only
  --no-build            use packages/server/dist as it is
  --crypto-ms MS        time per crypto-ceiling measurement       (default 2000)
  --server FILE         the baton CLI to run (A/B a modified build)  (default packages/server/dist/cli/main.js)
  --profile DIR         run the servers with --cpu-prof, profiles in DIR
                        (one folder per server; summarise: node bench/profile-summary.ts DIR/<server>)

The login mode pays scrypt at the default OWASP cost (N=2^17, ~0.4 s of one core) by design.
login-fast uses a user whose hash has N=2^10: NOT the default, it shows login's other costs.
`

// --scale (issue 17 §3): cost as the store grows, with its own flags (bench/scale.ts).
if (process.argv.includes('--scale')) process.exit(await (await import('./scale.js')).runScale(process.argv.slice(2)))
// --peers (issue 17 §2): baton next to Django + simplejwt and better-auth, its own flags (bench/peers/main.ts).
if (process.argv.includes('--peers')) process.exit(await (await import('./peers/main.js')).runPeers(process.argv.slice(2)))

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    'login-connections': { type: 'string', default: '4' },
    modes: { type: 'string', default: 'refresh,protected,login,login-fast,static' },
    stores: { type: 'string', default: 'memory,sqlite,redis' },
    algs: { type: 'string', default: 'EdDSA,ES256,RS256,HS256' },
    workers: { type: 'string', default: `1,${availableParallelism()}` },
    full: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'crypto-ms': { type: 'string', default: '2000' },
    profile: { type: 'string' },
    server: { type: 'string', default: 'packages/server/dist/cli/main.js' },
    help: { type: 'boolean', default: false },
  },
})
if (flags.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

type Mode = 'refresh' | 'protected' | 'login' | 'login-fast' | 'static'
type Store = 'memory' | 'sqlite' | 'redis'
const durationMs = Number(flags.duration) * 1000
const warmupMs = Number(flags.warmup) * 1000
const connections = Number(flags.connections)
const loginConnections = Number(flags['login-connections'])
const modes = new Set(flags.modes.split(',') as Mode[])
const stores = flags.stores.split(',') as Store[]
const algs = flags.algs.split(',') as Algorithm[]
const workerCounts = [...new Set(flags.workers.split(',').map(Number))]
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'

interface Row {
  mode: Mode
  store: Store | '-'
  alg: Algorithm | '-'
  workers: number
  connections: number
  rps: number
  latencyMs: LoadResult['latencyMs']
  non2xx: number
  errors: number
  statuses: Record<string, number>
  brokenChains?: number
  cpu: Record<string, number>
  /** Requests per second per core the server used (its workers, not the load generator). */
  rpsPerServerCore: number
  redis?: {
    /** Every Redis command per request, INFO commandstats over a quiesced bracket (script-internal ones included). */
    commandsPerRequest: number
    commandstats: Record<string, number>
    /** Commands the server itself sent per request (round trips), MONITOR over the same bracket. */
    roundTripsPerRequest?: number
    roundTripSample?: Record<string, number>
  }
  note?: string
}

const log = (s: string): void => void process.stderr.write(`${s}\n`)
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

async function main(): Promise<void> {
  const started = new Date().toISOString()
  const loadBefore = loadAverage()
  log(`bench: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${loadBefore.join(' ')}`)

  if (!flags['no-build']) {
    log('bench: building (tsc -b packages/client packages/server)')
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/client', 'packages/server'], {
        cwd: ROOT,
        stdio: 'pipe',
      })
    } catch (err) {
      const out = String((err as { stdout?: Buffer }).stdout ?? '')
      log(`bench: build reported errors (using what was emitted):\n${out.split('\n').slice(0, 10).join('\n')}`)
    }
  }
  if (!existsSync(join(ROOT, 'packages/server/dist/cli/main.js'))) throw new Error('packages/server/dist is missing: run `npm run build`')

  log('bench: cryptography ceilings (jose and baton codec, one core)')
  const crypto = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/crypto-ceiling.ts', '--algs', algs.join(','), '--ms', flags['crypto-ms']], {
      cwd: ROOT,
      encoding: 'utf8',
    }),
  ) as CryptoCeiling[]

  const rows: Row[] = []
  const redis = stores.includes('redis') ? await startRedis() : null
  const bytes: Record<string, unknown> = {}
  try {
    const maxWorkers = Math.max(...workerCounts)
    for (const workers of workerCounts) {
      if (modes.has('static')) rows.push(await staticCeiling(workers))
      for (const store of stores) {
        if (store === 'memory' && workers > 1) continue // sessions live in one process
        for (const [i, alg] of algs.entries()) {
          const sweep = flags.full || i === 0 || (store === stores[stores.length - 1] && workers === maxWorkers)
          if (!sweep) continue
          const withLogin = flags.full || i === 0
          const out = await combo(store, alg, workers, redis, withLogin)
          rows.push(...out.rows)
          if (out.bytes !== undefined) bytes[`${alg}/W${workers}`] = out.bytes
        }
      }
    }
  } finally {
    await redis?.stop()
  }

  const loadAfter = loadAverage()
  const goals = targets(rows, crypto, bytes)
  printTable(rows, crypto, goals, loadBefore, loadAfter)
  const summary = {
    bench: 'baton',
    started,
    node: process.version,
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? null,
    loadAverage: { before: loadBefore, after: loadAfter },
    durationSeconds: durationMs / 1000,
    connections,
    crypto,
    rows,
    redisBytesPerSession: bytes,
    targets: goals,
  }
  process.stdout.write(JSON.stringify(summary) + '\n')
}

async function staticCeiling(workers: number): Promise<Row> {
  log(`bench: static JSON ceiling, WORKERS=${workers}`)
  const server = await startServer(
    [...profileArgs(`static-W${workers}`), '--import', 'tsx', 'bench/static-server.ts'],
    { WORKERS: String(workers), LOG_LEVEL: 'warn' },
    workers,
  )
  try {
    const req = buildRequest('GET', '/api/static/', { headers: { authorization: `Bearer ${'x'.repeat(330)}`, 'user-agent': UA } })
    const lanes: Lane[] = Array.from({ length: connections }, () => ({ request: () => req, response: () => undefined }))
    const r = await runLoad({ port: server.port, lanes, warmupMs, durationMs, probes: { server: server.cpu } })
    return row('static', '-', '-', workers, connections, r, { note: 'Fastify, same options, static body (ceiling)' })
  } finally {
    await server.stop()
  }
}

function profileArgs(name: string): string[] {
  return flags.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(flags.profile, name)}`]
}

function row(
  mode: Mode,
  store: Row['store'],
  alg: Row['alg'],
  workers: number,
  conns: number,
  r: LoadResult,
  extra: Partial<Row> = {},
): Row {
  const server = r.cpu.server ?? 0
  return {
    mode,
    store,
    alg,
    workers,
    connections: conns,
    rps: r.rps,
    latencyMs: r.latencyMs,
    non2xx: r.non2xx,
    errors: r.errors,
    statuses: r.statuses,
    cpu: r.cpu,
    rpsPerServerCore: server > 0 ? Math.round(r.rps / server) : 0,
    ...extra,
  }
}

async function keyEnv(alg: Algorithm): Promise<Record<string, string>> {
  if (alg === 'HS256') return { JWT_SECRET: `base64:${randomBytes(32).toString('base64')}` }
  const { privateJWK } = await generateKey(alg)
  return { JWT_PRIVATE_KEY: JSON.stringify(privateJWK) }
}

interface Session {
  access: string
  refresh: string
}

async function combo(
  store: Store,
  alg: Algorithm,
  workers: number,
  redis: BenchRedis | null,
  withLogin: boolean,
): Promise<{ rows: Row[]; bytes?: unknown }> {
  const tag = `${store}/${alg}/WORKERS=${workers}`
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-'))
  const out: Row[] = []
  let bytes: unknown
  let server: ServerProcess | null = null
  try {
    await seedUsers(dataDir, connections)
    if (redis !== null) {
      await redis.admin.flushall()
      await redis.admin.config('RESETSTAT')
    }
    const env: Record<string, string> = {
      BATON_MODE: 'production',
      BATON_STORE: store,
      BATON_DATA_DIR: dataDir,
      JWT_ALGORITHM: alg,
      WORKERS: String(workers),
      LOG_LEVEL: 'warn',
      // One address sends everything: the failure-counting limits would stop nothing here,
      // but keep them on (high) so their cost on the success path is measured.
      LOGIN_RATE_LIMIT: '1000000/60',
      LOGIN_RATE_LIMIT_IP: '1000000/60',
      REFRESH_RATE_LIMIT: '1000000/60',
      // The set-up users and login-fast's user are hashed with this cost: a server with another
      // would re-hash them at their first login (users/checker.ts). The login mode restarts the
      // server at the default cost for its OWASP-hashed user.
      PASSWORD_SCRYPT_LN: String(SETUP_SCRYPT.ln),
      ...(await keyEnv(alg)),
      ...(store === 'redis' ? { REDIS_URL: redis!.url } : {}),
    }
    log(`bench: ${tag}: starting the server`)
    server = await startServer([...profileArgs(`${store}-${alg}-W${workers}`), flags.server, 'serve'], env, workers)
    const probes: { server: CpuProbe; redis?: CpuProbe } = {
      server: server.cpu,
      ...(redis !== null && store === 'redis' ? { redis: redis.cpu } : {}),
    }
    const port = server.port

    // Set-up (not timed): one login per session, users hashed with scrypt 2^10.
    // The login queue (issue 15) sheds a burst of logins with 503 login_busy, as it should: the
    // set-up sends the ones shed again until every session exists.
    const sessions: Session[] = []
    let pending = Array.from({ length: connections }, (_, i) => i)
    for (let attempt = 0; pending.length > 0; attempt++) {
      const setup = await runOnce(
        port,
        pending.map((i) => loginRequest(sessionUser(i))),
      )
      const shed: number[] = []
      setup.forEach((res, k) => {
        if (res.status === 503 && attempt < 50) shed.push(pending[k] as number)
        else if (res.status !== 200) throw new Error(`set-up login failed: ${res.status} ${res.body.toString()}`)
        else sessions.push(JSON.parse(res.body.toString()) as Session)
      })
      pending = shed
      if (shed.length > 0) await new Promise((r) => setTimeout(r, 200))
    }

    if (modes.has('refresh')) {
      log(`bench: ${tag}: refresh (rotation chains)`)
      const lanes = sessions.map((s) => rotationLane('/api/auth/refresh/', s, UA))
      const r = await runLoad({ port, lanes, warmupMs, durationMs, probes })
      const broken = lanes.filter((l) => l.broken !== null)
      const extra: Partial<Row> = { brokenChains: broken.length }
      if (broken.length > 0) log(`bench: ${tag}: ${broken.length} rotation chains broke; first answer: ${broken[0]!.broken}`)
      if (store === 'redis') extra.redis = await redisPerRequest(redis!, port, lanes, 20)
      if (store === 'redis') bytes = await sessionBytes(redis!.admin)
      out.push(row('refresh', store, alg, workers, connections, r, extra))
    }

    if (modes.has('protected')) {
      log(`bench: ${tag}: protected route (GET /api/me/)`)
      const reqs = sessions.map((s) =>
        buildRequest('GET', '/api/me/', { headers: { authorization: `Bearer ${s.access}`, 'user-agent': UA } }),
      )
      const lanes: Lane[] = reqs.map((req) => ({ request: () => req, response: () => undefined }))
      const r = await runLoad({ port, lanes, warmupMs, durationMs, probes })
      out.push(
        row(
          'protected',
          store,
          alg,
          workers,
          connections,
          r,
          store === 'redis' ? { redis: await redisPerRequest(redis!, port, lanes, 20) } : {},
        ),
      )
    }

    for (const mode of ['login-fast', 'login'] as const) {
      if (!modes.has(mode) || !withLogin) continue
      if (mode === 'login') {
        await server.stop()
        const { PASSWORD_SCRYPT_LN: _, ...defaults } = env
        server = await startServer([...profileArgs(`${store}-${alg}-W${workers}-login`), flags.server, 'serve'], defaults, workers)
        probes.server = server.cpu
      }
      const port = server.port
      log(`bench: ${tag}: ${mode}`)
      const req = loginRequest(mode === 'login' ? OWASP_USER : FAST_USER)
      const lanes: Lane[] = Array.from({ length: loginConnections }, () => ({ request: () => req, response: () => undefined }))
      const r = await runLoad({ port, lanes, warmupMs: mode === 'login' ? Math.max(warmupMs, 3000) : warmupMs, durationMs, probes })
      out.push(
        row(mode, store, alg, workers, loginConnections, r, {
          note: mode === 'login' ? 'scrypt N=2^17 r=8 p=1 (default, OWASP)' : `scrypt N=2^${SETUP_SCRYPT.ln}: NOT the default`,
        }),
      )
    }
    return { rows: out, bytes }
  } catch (err) {
    log(`bench: ${tag} failed: ${(err as Error).message}\n${server?.output() ?? ''}`)
    throw err
  } finally {
    await server?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function loginRequest(username: string): Buffer {
  return buildRequest('POST', '/api/auth/token/', { body: { username, password: PASSWORD }, headers: { 'user-agent': UA } })
}

/**
 * Redis cost per request, exactly: with no request in flight, snapshot INFO commandstats and
 * start MONITOR; run `rounds` rounds of one request per lane; wait for every answer; snapshot
 * again. commandstats counts every command (script-internal ones too); MONITOR tells which ones
 * the server sent itself, i.e. the round trips.
 */
async function redisPerRequest(redis: BenchRedis, port: number, lanes: Lane[], rounds: number): Promise<NonNullable<Row['redis']>> {
  const { Connection } = await import('./lib/http-client.js')
  const conns = await Promise.all(lanes.map(() => Connection.open(port)))
  try {
    const before = await commandStats(redis.admin)
    const monitor = await startMonitor(redis.port)
    let ok = 0
    for (let i = 0; i < rounds; i++) {
      await Promise.all(
        lanes.map(async (lane, j) => {
          const req = lane.request()
          if (req === null) return
          const res = await conns[j]!.send(req)
          if (res.status >= 200 && res.status < 300) ok++
          lane.response(res)
        }),
      )
    }
    const sample = await monitor.stop()
    const delta = statsDelta(before, await commandStats(redis.admin))
    const sent = Object.values(sample.client).reduce((a, b) => a + b, 0)
    return {
      commandsPerRequest: round(sum(delta) / Math.max(1, ok), 3),
      commandstats: perRequest(delta, ok),
      roundTripsPerRequest: round(sent / Math.max(1, ok), 3),
      roundTripSample: { ...sample.client, requests: ok },
    }
  } finally {
    for (const c of conns) c.close()
  }
}

/** Sends each request once on its own connection, all at once. */
async function runOnce(port: number, requests: Buffer[]): Promise<RawResponse[]> {
  const { Connection } = await import('./lib/http-client.js')
  return Promise.all(
    requests.map(async (req) => {
      const conn = await Connection.open(port)
      try {
        return await conn.send(req)
      } finally {
        conn.close()
      }
    }),
  )
}

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0)
}

function perRequest(delta: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, round(v / Math.max(1, n), 3)]))
}

interface Check {
  ok: boolean
  text: string
}

interface Targets {
  workers: number
  ceilings: { staticJSON: number | null; crypto: Record<string, { jose: number; node: number; codec: number }> }
  /** Refresh with Redis at the most workers, per algorithm: each criterion of issue 5. */
  refreshRedis: {
    alg: string
    rps: number
    p99Ms: number
    percentOfJoseCeiling: number | null
    percentOfNodeCeiling: number | null
    percentOfNodePerServerCore: number | null
    checks: Check[]
  }[]
  protected: { store: string; alg: string; rps: number; percentOfStatic: number | null; checks: Check[] }[]
  bytesPerSession: { sessionHash: number; withUserIndex: number; checks: Check[] } | null
  scaling: { mode: string; store: string; alg: string; w1: number; wMax: number; factor: number }[]
}

function targets(rows: Row[], crypto: CryptoCeiling[], bytes: Record<string, unknown>): Targets {
  const maxW = Math.max(...workerCounts)
  const minW = Math.min(...workerCounts)
  const cores = cpus().length
  const staticRow = rows.find((r) => r.mode === 'static' && r.workers === maxW)
  const staticJSON = staticRow?.rps ?? null
  const pct = (a: number, b: number | null) => (b === null || b === 0 ? null : Math.round((100 * a) / b))
  const lower = (a: number | null, b: number) => (a === null ? b : Math.min(a, b))
  const check = (ok: boolean, text: string): Check => ({ ok, text })
  const ceilings: Targets['ceilings'] = { staticJSON, crypto: {} }
  for (const c of crypto)
    ceilings.crypto[c.alg] = {
      jose: c.joseRefreshPerCore * cores,
      node: c.nodeRefreshPerCore * cores,
      codec: c.codecRefreshPerCore * cores,
    }

  const refreshRedis: Targets['refreshRedis'] = []
  for (const r of rows.filter((x) => x.mode === 'refresh' && x.store === 'redis' && x.workers === maxW)) {
    const c = ceilings.crypto[r.alg]
    const joseCeiling = c === undefined ? null : lower(staticJSON, c.jose)
    const nodeCeiling = c === undefined ? null : lower(staticJSON, c.node)
    const ofJose = pct(r.rps, joseCeiling)
    const ofNode = pct(r.rps, nodeCeiling)
    // The generator and redis-server share the cores, so the server gets fewer than `cores`:
    // per core the server actually used, against raw node:crypto on one core.
    const perCore = crypto.find((x) => x.alg === r.alg)?.nodeRefreshPerCore
    const ofNodePerCore = perCore === undefined ? null : pct(r.rpsPerServerCore, perCore)
    const trips = r.redis?.roundTripsPerRequest ?? null
    refreshRedis.push({
      alg: r.alg,
      rps: r.rps,
      p99Ms: r.latencyMs.p99,
      percentOfJoseCeiling: ofJose,
      percentOfNodeCeiling: ofNode,
      percentOfNodePerServerCore: ofNodePerCore,
      checks: [
        check(r.rps >= 4500, `${r.rps}/s >= 4500`),
        check(
          (ofJose ?? 0) >= 60,
          `${ofJose ?? '-'}% of min(static JSON, jose x ${cores}) = ${joseCeiling ?? '-'} >= 60% (${ofNode ?? '-'}% of min(static JSON, raw node:crypto x ${cores}) = ${nodeCeiling ?? '-'}; per server core ${r.rpsPerServerCore ?? '-'}/s = ${ofNodePerCore ?? '-'}% of raw node:crypto's ${perCore ?? '-'}/s)`,
        ),
        check(r.latencyMs.p99 < 25, `p99 ${r.latencyMs.p99} ms < 25`),
        check(r.non2xx + r.errors === 0 && (r.brokenChains ?? 0) === 0, `non-2xx ${r.non2xx + r.errors} = 0`),
        check(trips !== null && Math.abs(trips - 1) <= 0.01, `Redis round trips per refresh ${trips ?? '-'} = 1`),
      ],
    })
  }

  const protectedRows: Targets['protected'] = []
  for (const r of rows.filter((x) => x.mode === 'protected' && x.workers === maxW && (x.store === 'redis' || !stores.includes('redis')))) {
    const ofStatic = pct(r.rps, staticJSON)
    protectedRows.push({
      store: r.store,
      alg: r.alg,
      rps: r.rps,
      percentOfStatic: ofStatic,
      checks: [
        check(r.rps >= 35_000, `${r.rps}/s >= 35000`),
        check((ofStatic ?? 0) >= 70, `${ofStatic ?? '-'}% of static JSON ${staticJSON ?? '-'} >= 70%`),
        check(r.non2xx + r.errors === 0, `non-2xx ${r.non2xx + r.errors} = 0`),
        ...(r.redis === undefined
          ? []
          : [check(r.redis.commandsPerRequest === 0, `Redis commands per request ${r.redis.commandsPerRequest} = 0`)]),
      ],
    })
  }

  const b = (bytes[`${algs[0]}/W${maxW}`] ?? Object.values(bytes)[0]) as { hashBytes: number; bytesPerSession: number } | undefined
  const scaling: Targets['scaling'] = []
  if (maxW !== minW) {
    for (const r of rows.filter((x) => x.workers === maxW)) {
      const one = rows.find((x) => x.workers === minW && x.mode === r.mode && x.store === r.store && x.alg === r.alg)
      if (one !== undefined && one.rps > 0)
        scaling.push({
          mode: r.mode,
          store: r.store,
          alg: r.alg,
          w1: one.rps,
          wMax: r.rps,
          factor: Math.round((100 * r.rps) / one.rps) / 100,
        })
    }
  }
  return {
    workers: maxW,
    ceilings,
    refreshRedis,
    protected: protectedRows,
    bytesPerSession:
      b === undefined
        ? null
        : {
            sessionHash: b.hashBytes,
            withUserIndex: b.bytesPerSession,
            checks: [
              check(
                b.hashBytes < 400,
                `session hash ${b.hashBytes} bytes < 400 (${b.bytesPerSession} with its share of the per-user index, one session per user)`,
              ),
            ],
          },
    scaling,
  }
}

function printTable(rows: Row[], crypto: CryptoCeiling[], goals: Targets, before: number[], after: number[]): void {
  const header = [
    'mode',
    'store',
    'alg',
    'W',
    'conns',
    'req/s',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'srv cores',
    'gen cores',
    'redis cores',
    'req/s/srv core',
    'redis cmds/req',
    'round trips/req',
    'note',
  ]
  const lines = rows.map((r) => [
    r.mode,
    r.store,
    r.alg,
    String(r.workers),
    String(r.connections),
    String(r.rps),
    r.latencyMs.p50.toFixed(2),
    r.latencyMs.p99.toFixed(2),
    String(r.non2xx + r.errors) + (r.brokenChains ? ` (${r.brokenChains} broken)` : ''),
    (r.cpu.server ?? 0).toFixed(2),
    (r.cpu.loadgen ?? 0).toFixed(2),
    r.cpu.redis === undefined ? '-' : r.cpu.redis.toFixed(2),
    String(r.rpsPerServerCore),
    r.redis === undefined ? '-' : String(r.redis.commandsPerRequest),
    r.redis?.roundTripsPerRequest === undefined ? '-' : String(r.redis.roundTripsPerRequest),
    r.note ?? '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |'
  const out: string[] = []
  out.push(
    '',
    `baton bench: ${cpus().length} cores, node ${process.version}, load average before ${before.join(' ')}, after ${after.join(' ')}`,
  )
  out.push(`${durationMs / 1000} s per mode after ${warmupMs / 1000} s warm-up; closed loop, one request in flight per connection.`)
  out.push('"srv cores": CPU the server (all workers) used; "gen cores": the load generator; both share this machine.', '')
  out.push(fmt(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...lines.map(fmt), '')
  out.push(
    'Cryptography of one refresh, per core (node:crypto and codec: 1 MAC check + 1 signature + 1 MAC since issue 17; jose and "all public-key": 1 verify + 2 signs):',
  )
  for (const c of crypto)
    out.push(
      `  ${c.alg.padEnd(6)} node:crypto ${String(c.nodeRefreshPerCore).padStart(6)}/s (all public-key ${c.nodeRefreshAllPublicKeyPerCore}/s)   baton codec ${String(c.codecRefreshPerCore).padStart(6)}/s   jose ${String(c.joseRefreshPerCore).padStart(5)}/s (jose sign ${c.joseSignPerCore}/s, verify ${c.joseVerifyPerCore}/s)`,
    )
  const mark = (checks: Check[]) => checks.map((c) => `${c.ok ? 'PASS' : 'MISS'} ${c.text}`).join('; ')
  const g = goals
  out.push(
    '',
    `Targets (issue 5), WORKERS=${g.workers}; ceilings: static JSON ${g.ceilings.staticJSON ?? '-'}/s; refresh cryptography x ${cpus().length} cores:`,
  )
  for (const [alg, c] of Object.entries(g.ceilings.crypto))
    out.push(`  ${alg.padEnd(6)} raw node:crypto ${c.node}/s, baton codec ${c.codec}/s, jose ${c.jose}/s`)
  for (const r of g.refreshRedis) out.push(`  refresh, Redis, ${r.alg}: ${mark(r.checks)}`)
  for (const p of g.protected) out.push(`  protected, ${p.store}, ${p.alg}: ${mark(p.checks)}`)
  if (g.bytesPerSession !== null) out.push(`  Redis bytes per session: ${mark(g.bytesPerSession.checks)}`)
  if (g.scaling.length > 0) {
    out.push(`  scaling WORKERS=${Math.min(...workerCounts)} -> ${g.workers} (req/s):`)
    for (const s of g.scaling)
      out.push(
        `    ${`${s.mode} ${s.store === '-' ? '' : s.store} ${s.alg === '-' ? '' : s.alg}`.padEnd(26)} ${String(s.w1).padStart(6)} -> ${String(s.wMax).padStart(6)}  x${s.factor}`,
      )
  }
  out.push('')
  process.stdout.write(out.join('\n') + '\n')
}

await main()
