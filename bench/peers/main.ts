/**
 * `npm run bench -- --peers`: baton next to the seed's stack (Django + simplejwt on gunicorn) and
 * better-auth, with the same load generator (bench/lib/load.ts), groups interleaved (baton, peer,
 * baton, peer...), the load average recorded per group. Prints one table of the medians and ranges
 * of the baton/peer ratios, then one JSON line last. Never part of the tests. See bench/README.md,
 * "Peers", for what each side runs and every setting that differs from the peers' defaults.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Algorithm } from '../../packages/server/src/config.js'
import { startRedisServer } from '../../packages/server/test/helpers/redis-server.js'
import { PYTHON } from '../../interop/helpers/django.js'
import { runLoad } from '../lib/load.js'
import { type CpuProbe, loadAverage, processCpuSeconds } from '../lib/proc.js'
import { ROOT } from '../lib/server.js'
import { startDjango } from './django.js'
import { type PasswordCost, passwordCost } from './password-cost.js'
import { type Group, machine, ratios, readmeBlock, table, writeReadme } from './report.js'
import { type Mode, type StartContext, type Store, type System, type SystemName, startBaton, startBetterAuth } from './systems.js'

const HELP = `Usage: npm run bench -- --peers [options]

  --duration S          timed window per group, seconds            (default 10)
  --warmup S            warm-up before each window, seconds        (default 2)
  --rounds N            baton/peer pairs per mode and peer         (default 3)
  --connections N       sessions / connections (refresh, protected) (default 64)
  --login-connections N concurrent logins                          (default 4)
  --stores LIST         redis,sqlite                               (default both)
  --modes LIST          refresh,protected,protected-jwt,login      (default all; protected-jwt:
                        better-auth's JWT checked locally by a jose + JWKS service)
  --with LIST           django,better-auth                         (default both)
  --workers N           baton WORKERS = better-auth processes      (default ${availableParallelism()})
  --alg ALG             baton's JWT_ALGORITHM and better-auth's key (ES256 | EdDSA, default ES256)
  --cookie-cache        better-auth's session.cookieCache on (off by default, as its docs start)
  --login-all-stores    the login mode on every store (default: the first only)
  --no-build            use packages/server/dist as it is
  --readme              write the table into bench/README.md ("Peers", between its markers)
`

export async function runPeers(argv: string[]): Promise<number> {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '64' },
      'login-connections': { type: 'string', default: '4' },
      stores: { type: 'string', default: 'redis,sqlite' },
      modes: { type: 'string', default: 'refresh,protected,protected-jwt,login' },
      with: { type: 'string', default: 'django,better-auth' },
      workers: { type: 'string', default: String(availableParallelism()) },
      alg: { type: 'string', default: 'ES256' },
      'cookie-cache': { type: 'boolean', default: false },
      'login-all-stores': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      readme: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      peers: { type: 'boolean', default: true },
    },
  })
  if (flags.help) {
    process.stdout.write(HELP)
    return 0
  }
  const started = new Date().toISOString()
  const m = machine()
  const durationMs = Number(flags.duration) * 1000
  const warmupMs = Number(flags.warmup) * 1000
  const rounds = Number(flags.rounds)
  const stores = flags.stores.split(',') as Store[]
  const modes = new Set(flags.modes.split(',') as Mode[])
  const peers = flags.with.split(',') as Exclude<SystemName, 'baton'>[]
  const unknown = [
    ...stores.filter((x) => x !== 'redis' && x !== 'sqlite'),
    ...[...modes].filter((x) => !['refresh', 'protected', 'protected-jwt', 'login'].includes(x)),
    ...peers.filter((x) => x !== 'django' && x !== 'better-auth'),
    ...(['ES256', 'EdDSA'].includes(flags.alg) ? [] : [flags.alg]),
  ]
  if (unknown.length > 0) {
    process.stderr.write(`peers: unknown ${unknown.join(', ')}\n${HELP}`)
    return 2
  }
  log(`peers: ${m.cores} x ${m.cpu}, node ${m.node}, commit ${m.commit}, load average ${loadAverage().join(' ')}`)
  prepare(!flags['no-build'])

  const redis = await startRedisServer()
  const redisCpu = () => (redis.pid === undefined ? 0 : processCpuSeconds(redis.pid))
  const run: Run = { durationMs, warmupMs, rounds, peers, cookieCache: flags['cookie-cache'], redisCpu, groups: [], described: {} }
  const base = {
    sessions: Number(flags.connections),
    loginConnections: Number(flags['login-connections']),
    redisURL: redis.url,
    workers: Number(flags.workers),
    alg: flags.alg as Algorithm,
  }
  try {
    for (const [i, store] of stores.entries()) {
      const sessionModes = (['refresh', 'protected', 'protected-jwt'] as const).filter((x) => modes.has(x))
      if (sessionModes.length > 0) await phase(run, { ...base, store, phase: 'sessions' }, sessionModes)
      if (modes.has('login') && (i === 0 || flags['login-all-stores'])) await phase(run, { ...base, store, phase: 'login' }, ['login'])
    }
  } finally {
    await redis.stop()
  }

  const rows = ratios(run.groups)
  const cost: PasswordCost | null = modes.has('login') ? passwordCost() : null
  const costLine =
    cost === null
      ? ''
      : `One password check, CPU ms on this machine: scrypt N=2^17 r=8 p=1 (baton, better-auth) ${cost.scryptN17Ms}, PBKDF2-SHA256 x260,000 (Django 3.2's default) ${cost.pbkdf2Sha256x260kMs}.`
  const text = table(rows) + (costLine === '' ? '' : `\n\n${costLine}`)
  const command = `npm run bench -- ${argv.join(' ')}`
  process.stdout.write(
    `\nbaton / peer, req/s of adjacent groups (${rounds} rounds of ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up; closed loop; ${started}):\n\n${text}\n\n`,
  )
  if (flags.readme)
    log(
      writeReadme(readmeBlock(rows, m, started, command, costLine))
        ? 'peers: table written into bench/README.md'
        : 'peers: bench/README.md has no peers-table markers; not written',
    )
  process.stdout.write(
    JSON.stringify({
      bench: 'peers',
      started,
      machine: m,
      command,
      systems: run.described,
      passwordCostMs: cost,
      rows,
      groups: run.groups,
    }) + '\n',
  )
  return 0
}

/** What the groups of one run share; they append to `groups` and `described`. */
interface Run {
  durationMs: number
  warmupMs: number
  rounds: number
  peers: Exclude<SystemName, 'baton'>[]
  cookieCache: boolean
  redisCpu: CpuProbe
  groups: Group[]
  described: Record<string, string>
}

/** One set of servers for a store row; every mode's groups, interleaved baton, peer, baton, peer. */
async function phase(run: Run, ctx: StartContext, phaseModes: readonly Mode[]): Promise<void> {
  const systems: System[] = []
  try {
    log(`peers: ${ctx.store}/${ctx.phase}: starting baton, ${run.peers.join(', ')}`)
    systems.push(await startBaton(ctx))
    for (const p of run.peers)
      systems.push(p === 'django' ? await startDjango(ctx) : await startBetterAuth(ctx, { cookieCache: run.cookieCache }))
    for (const s of systems) run.described[`${ctx.store}/${ctx.phase}/${s.name}`] = s.describe
    const baton = systems[0]!
    for (const mode of phaseModes) {
      for (let round = 0; round < run.rounds; round++) {
        for (const peer of systems.slice(1)) {
          if (!peer.supports(mode)) continue
          run.groups.push(await group(run, ctx.store, mode, baton, peer.name, round))
          run.groups.push(await group(run, ctx.store, mode, peer, peer.name, round))
        }
      }
    }
  } finally {
    for (const s of systems) await s.stop()
  }
}

async function group(run: Run, store: Store, mode: Mode, system: System, pairedWith: SystemName, round: number): Promise<Group> {
  const load1 = loadAverage()[0]
  const lanes = system.lanes(mode)
  const target = system.targets?.[mode] ?? system
  const probes = { server: target.cpu, ...(store === 'redis' ? { redis: run.redisCpu } : {}) }
  const warm = mode === 'login' ? Math.max(run.warmupMs, 3000) : run.warmupMs
  const r = await runLoad({ port: target.port, lanes, warmupMs: warm, durationMs: run.durationMs, probes, open: system.open })
  const broken = lanes.filter((l) => l.broken !== null)
  log(
    `peers: ${store} ${mode} ${system.name.padEnd(11)} round ${round + 1}: ${r.rps} req/s, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}, broken ${broken.length}, server ${r.cpu.server} cores, load ${load1}`,
  )
  if (broken.length > 0) log(`peers:   first broken lane: ${broken[0]!.broken}`)
  return {
    store,
    mode,
    system: system.name,
    pairedWith,
    round,
    loadAverage1m: load1,
    rps: r.rps,
    latencyMs: r.latencyMs,
    non2xx: r.non2xx,
    errors: r.errors,
    brokenLanes: broken.length,
    firstBroken: broken[0]?.broken ?? null,
    serverCores: r.cpu.server ?? 0,
    loadgenCores: r.cpu.loadgen ?? 0,
  }
}

/** better-auth's own package (bench/peers, its lockfile) and baton's build. */
function prepare(build: boolean): void {
  // The seed's stack on Debian's packages, as the test command installs them, plus django-redis
  // for the Redis row (a fresh machine has none of them).
  const imports = 'import django, rest_framework, rest_framework_simplejwt, gunicorn, django_redis'
  if (spawnSync(PYTHON, ['-c', imports], { stdio: 'ignore' }).status !== 0) {
    const packages = [
      'python3-django',
      'python3-djangorestframework',
      'python3-djangorestframework-simplejwt',
      'gunicorn',
      'python3-django-redis',
    ]
    log(`peers: installing ${packages.join(' ')} (apt-get)`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  }
  if (!existsSync(join(ROOT, 'bench/peers/node_modules/better-auth/package.json'))) {
    log('peers: installing bench/peers (npm ci --prefix bench/peers)')
    execFileSync('npm', ['ci', '--prefix', 'bench/peers', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  if (build) {
    log('peers: building (tsc -b packages/client packages/server)')
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/client', 'packages/server'], {
        cwd: ROOT,
        stdio: 'pipe',
      })
    } catch (err) {
      log(
        `peers: build reported errors (using what was emitted):\n${String((err as { stdout?: Buffer }).stdout ?? '')
          .split('\n')
          .slice(0, 10)
          .join('\n')}`,
      )
    }
  }
  if (!existsSync(join(ROOT, 'packages/server/dist/cli/main.js'))) throw new Error('packages/server/dist is missing: run `npm run build`')
}

function log(s: string): void {
  process.stderr.write(`${s}\n`)
}
