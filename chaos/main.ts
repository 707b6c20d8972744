/**
 * `npm run chaos`: a bounded, seeded run of a few hundred simulated users against two baton
 * instances on Redis Sentinel while faults are injected, judged afterwards by the oracle over
 * the whole history. Exit 0 when every invariant holds, 1 when one is violated, 2 on bad flags,
 * 3 when the run itself could not be set up.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { openFds, rssBytes } from './baton-instance.js'
import { CHROMIUM, runBrowserLane, type BrowserLaneInput, type BrowserLaneResult } from './browser.js'
import { startClusterStore } from './cluster.js'
import { BATON_FAULTS, newProbeSessions, planFaults, probeRevoked, runLane, type FaultContext } from './faults.js'
import { createHistory, type FaultRecord } from './history.js'
import { judge } from './oracle.js'
import { mulberry32 } from './random.js'
import { formatReport } from './report.js'
import { startSentinelStore, type ChaosStore } from './store.js'
import { planUsers, runAttack, runUser, username, type Revoked, type RunContext } from './users.js'

const HELP = `Usage: npm run chaos -- [--seed N] [--minutes M] [--users N] [--cluster] [--margin-ms MS] [--recovery-bound-ms MS]

Starts Redis (primary, replica, three Sentinels, a fault proxy in front of each node) and two
baton instances (packages/server/dist: build first) on free loopback ports, drives --users
simulated users with @baton/client for --minutes while faults are injected, then checks the
whole history (see README, "Chaos run"). Everything stops by itself.

  --seed N               the seed of every random choice (default 1); the report prints it
  --minutes M            length of the load, fractions allowed (default 3)
  --users N              simulated users (default 200)
  --browser-tabs N       Chromium tabs of one user in the browser lane (default 3; 0: none)
  --faults K,K           only these store fault kinds (default all; the table names them)
  --cluster              a Redis Cluster (three primaries, a replica each) instead of the Sentinel group
  --margin-ms MS         added to STORE_TIMEOUT_MS (500) before a request counts as late (default 2500)
  --recovery-bound-ms MS recovery after a fault fails past this (default 10000; SPEC §4 says 2 s)
  --history FILE         also write the whole history (exchanges, events, faults) there as JSON,
                         and each baton's last log lines to FILE.baton-1.log, FILE.baton-2.log
`

const BATON_RSS_BOUND = 400 * 2 ** 20
const REDIS_MEMORY_BOUND = 200 * 2 ** 20
/** Open descriptors (sockets, files) of one baton process: a leak of one per request passes it in seconds. */
const BATON_FDS_BOUND = 2000
const STORE_TIMEOUT_MS = 500
/** The user whose tabs the browser lane drives. */
const BROWSER_USER = 'chaos-browser'

interface Flags {
  seed: number
  minutes: number
  users: number
  marginMs: number
  recoveryBoundMs: number
  cluster: boolean
  browserTabs: number
  /** Store fault kinds to inject; empty: all of the store's. */
  faults: string[]
  /** Where to write the whole history as JSON (ids and outcomes, never a token). */
  history?: string
}

function flags(argv: string[]): Flags | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      minutes: { type: 'string', default: '3' },
      users: { type: 'string', default: '200' },
      'margin-ms': { type: 'string', default: '2500' },
      'recovery-bound-ms': { type: 'string', default: '10000' },
      history: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      'browser-tabs': { type: 'string', default: '3' },
      faults: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) return null
  const num = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw)
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}`)
    return n
  }
  return {
    seed: Math.floor(num('seed', values.seed, 0, 2 ** 32 - 1)),
    minutes: num('minutes', values.minutes, 0.25, 120),
    users: Math.floor(num('users', values.users, 4, 2000)),
    marginMs: num('margin-ms', values['margin-ms'], 0, 60_000),
    recoveryBoundMs: num('recovery-bound-ms', values['recovery-bound-ms'], 100, 120_000),
    cluster: values.cluster,
    browserTabs: Math.floor(num('browser-tabs', values['browser-tabs'], 0, 8)),
    faults: values.faults.split(',').filter((k) => k !== ''),
    ...(values.history === undefined ? {} : { history: values.history }),
  }
}

async function register(store: ChaosStore, names: string[], password: string): Promise<void> {
  const url = `${store.batons[0].url}/api/auth/register/`
  const queue = [...names]
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: name, password }),
        })
        if (r.status !== 201 && r.status !== 409) throw new Error(`register ${name}: ${r.status} ${await r.text()}`)
      }
    }),
  )
}

/** The real-browser lane (browser.ts), unless --browser-tabs 0 or there is no Chromium. */
async function browserLane(options: Flags, input: BrowserLaneInput): Promise<BrowserLaneResult | null> {
  if (options.browserTabs === 0) return null
  if (!existsSync(CHROMIUM)) {
    input.log(`browser lane skipped: no ${CHROMIUM}`)
    return null
  }
  const result = await runBrowserLane({ ...input, tabs: options.browserTabs })
  // The lane's faults join the report's table, counting the lane's own requests around each.
  for (const f of result.faults)
    input.history.faults.push({
      kind: `browser-${f.kind}`,
      target: `${options.browserTabs} Chromium tabs`,
      actor: 'ub/',
      start: f.start,
      end: f.end,
      failedOver: false,
      destroysData: false,
      ...(f.note === undefined ? {} : { note: f.note }),
    })
  const fig = result.figures
  input.log(
    `browser lane: ${fig.requests} requests, ${fig.refreshes} refreshes, max lock wait ${Math.round(fig.maxLockWaitMs)} ms (bound ${fig.lockWaitBoundMs}), ${fig.steals} steals, ${fig.sessionExpired} session ends, ${fig.tokenReused} token_reused`,
  )
  return result
}

async function main(argv: string[]): Promise<number> {
  let options
  try {
    options = flags(argv)
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n\n${HELP}`)
    return 2
  }
  if (options === null) {
    process.stdout.write(HELP)
    return 0
  }
  const started = Date.now()
  const log = (line: string): void => void process.stderr.write(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`)
  const random = mulberry32(options.seed)
  // Never printed: users' password for this run only.
  const password = randomBytes(12).toString('base64url')
  let store: ChaosStore
  try {
    const topologyOptions = { accessSeconds: 4, storeTimeoutMs: STORE_TIMEOUT_MS, log }
    store = options.cluster ? await startClusterStore(topologyOptions) : await startSentinelStore(topologyOptions)
    await register(store, [...Array.from({ length: options.users }, (_, i) => username(i)), 'chaos-probe', BROWSER_USER], password)
  } catch (err) {
    process.stderr.write(`chaos: could not set up the run: ${String(err)}\n`)
    return 3
  }
  log(`topology up: ${store.describe}`)

  const runMs = options.minutes * 60_000
  const start = Date.now()
  const deadline = start + runMs
  const history = createHistory()
  const revoked: Revoked[] = []
  const attacked = new Map<string, number>()
  const { users, attacks } = planUsers(options.users, random, runMs)
  const unknown = options.faults.filter((k) => !store.faults.kinds.includes(k))
  if (unknown.length > 0) {
    process.stderr.write(`chaos: --faults: not a fault of this store: ${unknown.join(', ')} (it has ${store.faults.kinds.join(', ')})\n`)
    await store.stop()
    return 2
  }
  const storePlan = planFaults(random.fork(), options.faults.length > 0 ? options.faults : store.faults.kinds, 400)
  const batonPlan = planFaults(random.fork(), BATON_FAULTS, 400)
  const urls = store.batons.map((b) => b.url)
  const ctx: RunContext = { history, urls, random: random.fork(), deadline, start, revoked, attacked, password }
  const faultCtx: FaultContext = {
    batons: store.batons,
    history,
    random: random.fork(),
    deadline,
    revoked,
    revokedProbes: [],
    recovery: new Map<FaultRecord, number | null>(),
    log,
    password,
  }

  const sampler = setInterval(() => {
    void store
      .usedMemory()
      .catch(() => null)
      .then((used) =>
        history.samples.push({
          t: Date.now(),
          rss: store.batons.map((b) => rssBytes(b.pid)),
          fds: store.batons.map((b) => openFds(b.pid)),
          redisUsedMemory: used,
        }),
      )
  }, 2000)

  const tabs = new Map()
  let browser: BrowserLaneResult | null = null
  const quietFrom = deadline - Math.max(8_000, runMs * 0.1)
  const sessions = newProbeSessions()
  const work = [
    ...users.map(async (plan, i) => {
      await new Promise((r) => setTimeout(r, (i / users.length) * 3000))
      await runUser({ ...ctx, random: random.fork() }, plan, tabs)
    }),
    ...attacks.map((plan) => runAttack({ ...ctx, random: random.fork() }, plan, tabs)),
    // Faults start once every user has logged in.
    new Promise((r) => setTimeout(r, 4000)).then(() => runLane(faultCtx, storePlan, quietFrom, sessions, store.faults)),
    new Promise((r) => setTimeout(r, 6000)).then(() => runLane(faultCtx, batonPlan, quietFrom, sessions, store.faults)),
    browserLane(options, {
      history,
      url: store.batons[0].url,
      username: BROWSER_USER,
      password,
      deadline,
      random: random.fork(),
      log,
    }).then((result) => (browser = result)),
  ]
  let timer: NodeJS.Timeout | undefined
  const overrun = await Promise.race([
    Promise.allSettled(work).then((results) => {
      for (const r of results) if (r.status === 'rejected') log(`a task failed: ${String(r.reason)}`)
      return false
    }),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), runMs + 90_000))),
  ])
  clearTimeout(timer)
  if (overrun) log('some users or fault lanes did not stop within 90 s of the deadline')
  clearInterval(sampler)
  log(`load done: ${history.exchanges.length} requests, ${history.faults.length} faults; probing ${revoked.length} revoked tokens`)
  await probeRevoked(faultCtx, 'the end of the run')
  const keys = await store.keys().catch((err: unknown) => ({ total: 0, withoutTTL: [`could not scan: ${String(err)}`] }))
  const rss = history.samples.flatMap((s) => s.rss.filter((x): x is number => x !== null))
  const fds = history.samples.flatMap((s) => s.fds.filter((x): x is number => x !== null))
  const used = history.samples.flatMap((s) => (s.redisUsedMemory === null ? [] : [s.redisUsedMemory]))
  const verdict = judge({
    history,
    revoked,
    revokedProbes: faultCtx.revokedProbes,
    attacked,
    recovery: faultCtx.recovery,
    storeTimeoutMs: STORE_TIMEOUT_MS,
    marginMs: options.marginMs,
    recoveryBoundMs: options.recoveryBoundMs,
    unreplicated: new Set(store.batons.flatMap((b) => [...b.unreplicated])),
    keys,
    memory: {
      batonRssMax: Math.max(0, ...rss),
      batonFdsMax: Math.max(0, ...fds),
      batonFdsBound: BATON_FDS_BOUND,
      redisUsedMax: Math.max(0, ...used),
      batonBound: BATON_RSS_BOUND,
      redisBound: REDIS_MEMORY_BOUND,
    },
  })
  if (browser !== null) verdict.invariants.push(...(browser as BrowserLaneResult).invariants)
  if (overrun)
    verdict.invariants.push({
      name: 'the run stops by itself',
      pass: false,
      summary: 'tasks still running 90 s after the deadline',
      excerpt: [],
    })
  const internal = store.batons.flatMap((b) =>
    b
      .tail(4000)
      .filter((l) => l.includes('internal_error'))
      .slice(0, 3),
  )
  const report = formatReport({ ...options, startedAt: started, endedAt: Date.now() }, history, faultCtx.recovery, verdict)
  if (verdict.invariants.some((i) => !i.pass) && internal.length > 0) process.stdout.write(`baton error lines:\n${internal.join('\n')}\n`)
  if (options.history !== undefined) {
    writeFileSync(options.history, JSON.stringify({ ...history, revokedProbes: faultCtx.revokedProbes }))
    // Each instance's last log lines beside it (JSON lines; baton never logs a token or secret).
    for (const b of store.batons) writeFileSync(`${options.history}.${b.name}.log`, b.tail(4000).join('\n') + '\n')
  }
  process.stdout.write(report)
  await store.stop()
  return verdict.invariants.every((i) => i.pass) ? 0 : 1
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(3)
  },
)
