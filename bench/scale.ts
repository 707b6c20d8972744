/**
 * `npm run bench -- --scale` (issue 17 §3): does a refresh, a session list and a session's
 * memory cost the same with 10k, 100k and 1M live sessions in the store? Seeds each size through
 * the store's own API (bench/lib/scale-seed.ts), measures against a real `baton serve` with the
 * bench's load generator (bench/lib/scale-step.ts), and compares every size to the 10k figure.
 * Sizes run in the order given (10k again at the end by default), each store in turn, so a
 * change in the machine's load shows as a difference between the 10k runs.
 * Prints a table, then one JSON line last. Never part of the tests. See bench/README.md "Scale".
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { startRedisServer } from '../packages/server/test/helpers/redis-server.js'
import { loadAverage, processCpuSeconds } from './lib/proc.js'
import { type SeedPlan, availableMemory, seedRedis, seedSqlite } from './lib/scale-seed.js'
import { type StepResult, measureStep } from './lib/scale-step.js'
import { ROOT } from './lib/server.js'
import { seedUsers } from './lib/users.js'

const HELP = `Usage: npm run bench -- --scale [options]

  --sizes LIST          live sessions per run, in run order  (default 10000,100000,1000000,10000)
  --stores LIST         redis,sqlite                          (default redis,sqlite)
  --sqlite-max N        larger sizes run on Redis only        (default 100000)
  --per-user N          seeded sessions per user              (default 4)
  --connections N       concurrent sessions / connections     (default 64)
  --duration S          timed window per mode, seconds        (default 10)
  --warmup S            warm-up before each window, seconds   (default 2)
  --workers N           server WORKERS                        (default 1)
  --seed-concurrency N  createSession calls in flight         (default 128)
  --no-build            use packages/server/dist as it is
  --server FILE         the baton CLI to run                  (default packages/server/dist/cli/main.js)

A size whose estimated memory (2 KiB per session) exceeds MemAvailable is skipped, and said so.
`

/** Beyond this ratio to the 10k figure (either way) a figure is flagged. */
const TOLERANCE = 0.2
/** Generous memory estimate per seeded session: Redis ~0.4 KiB, its RSS overhead, the seeder. */
const ESTIMATE_BYTES_PER_SESSION = 2048

type Store = 'redis' | 'sqlite'

interface ScaleRow {
  store: Store
  sessions: number
  users: number
  seedSeconds: number
  seedPerSecond: number
  /** Redis: used_memory delta ÷ sessions. SQLite: database file ÷ sessions. */
  bytesPerSession: number
  redisUsedMemory?: { before: number; after: number; rssAfter: number; keys: number }
  loadAverage: { before: [number, number, number]; after: [number, number, number] }
  refresh: StepResult['refresh']
  sessionsList: StepResult['sessions']
}

interface Ratio {
  store: Store
  sessions: number
  refreshP50: number
  refreshP99: number
  refreshPerServerCore: number
  listP50: number
  listP99: number
  listPerServerCore: number
  bytesPerSession: number
  /** Figures beyond TOLERANCE of the 10k baseline, e.g. 'refreshP99 1.31'. */
  flagged: string[]
}

const log = (s: string): void => void process.stderr.write(`${s}\n`)

export async function runScale(argv: string[]): Promise<number> {
  const { values: f } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'boolean', default: false },
      sizes: { type: 'string', default: '10000,100000,1000000,10000' },
      stores: { type: 'string', default: 'redis,sqlite' },
      'sqlite-max': { type: 'string', default: '100000' },
      'per-user': { type: 'string', default: '4' },
      connections: { type: 'string', default: '64' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      workers: { type: 'string', default: '1' },
      'seed-concurrency': { type: 'string', default: '128' },
      'no-build': { type: 'boolean', default: false },
      server: { type: 'string', default: 'packages/server/dist/cli/main.js' },
      help: { type: 'boolean', default: false },
    },
  })
  if (f.help) {
    process.stdout.write(HELP)
    return 0
  }
  const sizes = f.sizes.split(',').map(Number)
  const stores = f.stores.split(',') as Store[]
  const unknown = stores.filter((s) => s !== 'redis' && s !== 'sqlite')
  if (unknown.length > 0) throw new Error(`--stores: unknown ${unknown.join(',')} (redis, sqlite)`)
  const sqliteMax = Number(f['sqlite-max'])
  const perUser = Number(f['per-user'])
  const connections = Number(f.connections)
  const step = {
    workers: Number(f.workers),
    connections,
    warmupMs: Number(f.warmup) * 1000,
    durationMs: Number(f.duration) * 1000,
    server: f.server,
  }
  if (sizes.some((n) => !(n >= connections * perUser)))
    throw new Error(
      `every size must seed at least connections x per-user sessions (${connections * perUser}): the bench users are seeded users 1..${connections}`,
    )

  const started = new Date().toISOString()
  const loadBefore = loadAverage()
  log(
    `bench --scale: ${cpus().length} cores, node ${process.version}, load average ${loadBefore.join(' ')}, MemAvailable ${gib(availableMemory())} GiB`,
  )
  if (!f['no-build']) {
    log('bench --scale: building (tsc -b packages/server)')
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/server'], { cwd: ROOT, stdio: 'pipe' })
    } catch (err) {
      const out = String((err as { stdout?: Buffer }).stdout ?? '')
      log(`bench --scale: build reported errors (using what was emitted):\n${out.split('\n').slice(0, 10).join('\n')}`)
    }
  }

  const rows: ScaleRow[] = []
  const skipped: string[] = []
  const redis = stores.includes('redis') ? await startRedisServer() : null
  try {
    for (const sessions of sizes) {
      for (const store of stores) {
        if (store === 'sqlite' && sessions > sqliteMax) continue
        const need = sessions * ESTIMATE_BYTES_PER_SESSION
        if (need > availableMemory()) {
          skipped.push(`${store} ${sessions}: needs ~${gib(need)} GiB, ${gib(availableMemory())} GiB available`)
          log(`bench --scale: skipped ${skipped[skipped.length - 1]}`)
          continue
        }
        rows.push(await runOne(store, sessions, { sessions, perUser, concurrency: Number(f['seed-concurrency']) }, step, redis))
      }
    }
  } finally {
    await redis?.stop()
  }

  const ratios = compare(rows)
  const loadAfter = loadAverage()
  printTable(rows, ratios, loadBefore, loadAfter, step)
  const summary = {
    bench: 'baton-scale',
    started,
    node: process.version,
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? null,
    loadAverage: { before: loadBefore, after: loadAfter },
    durationSeconds: step.durationMs / 1000,
    connections,
    workers: step.workers,
    perUser,
    tolerance: TOLERANCE,
    rows,
    ratios,
    flagged: ratios.flatMap((r) => r.flagged.map((x) => `${r.store} ${r.sessions}: ${x}`)),
    skipped,
  }
  process.stdout.write(JSON.stringify(summary) + '\n')
  return 0
}

type StepSettings = { workers: number; connections: number; warmupMs: number; durationMs: number; server: string }

async function runOne(
  store: Store,
  sessions: number,
  plan: SeedPlan,
  step: StepSettings,
  redis: Awaited<ReturnType<typeof startRedisServer>> | null,
): Promise<ScaleRow> {
  const tag = `${store} ${sessions.toLocaleString('en')}`
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-scale-'))
  try {
    const before = loadAverage()
    await seedUsers(dataDir, step.connections)
    log(`bench --scale: ${tag}: seeding`)
    let seed: Awaited<ReturnType<typeof seedSqlite>> | Awaited<ReturnType<typeof seedRedis>>
    let redisUsedMemory: ScaleRow['redisUsedMemory']
    if (store === 'redis') {
      const admin = redis!.client()
      try {
        const s = await seedRedis(redis!.url, admin, plan)
        redisUsedMemory = { before: s.before.usedMemory, after: s.after.usedMemory, rssAfter: s.after.usedMemoryRss, keys: s.after.keys }
        seed = s
      } finally {
        admin.disconnect()
      }
    } else {
      seed = await seedSqlite(dataDir, plan)
    }
    log(`bench --scale: ${tag}: ${seed.perSecond}/s seeded, ${seed.bytesPerSession} bytes per session; measuring`)
    const pid = redis?.pid
    const measured = await measureStep({
      store,
      dataDir,
      ...(store === 'redis' ? { redisURL: redis!.url, ...(pid === undefined ? {} : { redisCpu: () => processCpuSeconds(pid) }) } : {}),
      ...step,
      seededPerUser: plan.perUser,
    })
    return {
      store,
      sessions,
      users: seed.users,
      seedSeconds: seed.seconds,
      seedPerSecond: seed.perSecond,
      bytesPerSession: seed.bytesPerSession,
      ...(redisUsedMemory === undefined ? {} : { redisUsedMemory }),
      loadAverage: { before, after: loadAverage() },
      refresh: measured.refresh,
      sessionsList: measured.sessions,
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const FIGURES = {
  refreshP50: (r: ScaleRow) => r.refresh.p50,
  refreshP99: (r: ScaleRow) => r.refresh.p99,
  refreshPerServerCore: (r: ScaleRow) => r.refresh.perServerCore,
  listP50: (r: ScaleRow) => r.sessionsList.p50,
  listP99: (r: ScaleRow) => r.sessionsList.p99,
  listPerServerCore: (r: ScaleRow) => r.sessionsList.perServerCore,
  bytesPerSession: (r: ScaleRow) => r.bytesPerSession,
} satisfies Record<string, (r: ScaleRow) => number>

/**
 * Each row (in run order) against the mean of its store's runs at the smallest size (10k by
 * default; the 10k rows themselves then show how far the load moved the figures).
 */
function compare(rows: ScaleRow[]): Ratio[] {
  return rows.map((r) => {
    const mine = rows.filter((x) => x.store === r.store)
    const smallest = Math.min(...mine.map((x) => x.sessions))
    const base = mine.filter((x) => x.sessions === smallest)
    const ratio = {} as Record<keyof typeof FIGURES, number>
    const flagged: string[] = []
    for (const [name, pick] of Object.entries(FIGURES) as [keyof typeof FIGURES, (r: ScaleRow) => number][]) {
      const b = base.reduce((s, x) => s + pick(x), 0) / base.length
      const x = b === 0 ? 0 : Math.round((pick(r) / b) * 100) / 100
      ratio[name] = x
      if (Math.abs(x - 1) > TOLERANCE) flagged.push(`${name} ${x}`)
    }
    return { store: r.store, sessions: r.sessions, ...ratio, flagged }
  })
}

function printTable(rows: ScaleRow[], ratios: Ratio[], before: number[], after: number[], step: StepSettings): void {
  const header = [
    'store',
    'sessions',
    'seed/s',
    'B/session',
    'refresh/s',
    'p50 ms',
    'p99 ms',
    '/srv core',
    'non-2xx',
    'list/s',
    'p50 ms',
    'p99 ms',
    '/srv core',
    'non-2xx',
    'load',
    'ratios to smallest (p50 p99 /core; list p50 p99 /core; bytes)',
  ]
  const lines = rows.map((r, i) => {
    const q = ratios[i]!
    return [
      r.store,
      r.sessions.toLocaleString('en'),
      String(r.seedPerSecond),
      String(r.bytesPerSession),
      String(r.refresh.rps),
      String(r.refresh.p50),
      String(r.refresh.p99),
      String(r.refresh.perServerCore),
      nonOk(r.refresh),
      String(r.sessionsList.rps),
      String(r.sessionsList.p50),
      String(r.sessionsList.p99),
      String(r.sessionsList.perServerCore),
      nonOk(r.sessionsList),
      r.loadAverage.before[0].toFixed(2),
      `${q.refreshP50} ${q.refreshP99} ${q.refreshPerServerCore}; ${q.listP50} ${q.listP99} ${q.listPerServerCore}; ${q.bytesPerSession}${q.flagged.length > 0 ? ' FLAG' : ''}`,
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |'
  const out = [
    '',
    `baton bench --scale: ${cpus().length} cores, node ${process.version}, load average before ${before.join(' ')}, after ${after.join(' ')}`,
    `WORKERS=${step.workers}, ${step.connections} sessions in closed loops, ${step.durationMs / 1000} s per mode after ${step.warmupMs / 1000} s warm-up; ES256.`,
    '',
    fmt(header),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...lines.map(fmt),
    '',
  ]
  for (const q of ratios)
    if (q.flagged.length > 0)
      out.push(`  beyond ${TOLERANCE * 100}% of the smallest size: ${q.store} ${q.sessions}: ${q.flagged.join(', ')}`)
  process.stdout.write(out.join('\n') + '\n')
}

/** Non-2xx answers by status ('0', or e.g. '503:1277'), and transport errors. */
function nonOk(m: { statuses: Record<string, number>; errors: number }): string {
  const bad = Object.entries(m.statuses)
    .filter(([k]) => !k.startsWith('2'))
    .map(([k, v]) => `${k}:${v}`)
  if (m.errors > 0) bad.push(`errors:${m.errors}`)
  return bad.length === 0 ? '0' : bad.join(' ')
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await runScale(process.argv.slice(2))
