/**
 * The peer bench's figures: medians and ranges of the baton/peer ratios of adjacent groups, one
 * table (markdown, so it can go into bench/README.md as printed), and the README block.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import type { LoadResult } from '../lib/load.js'
import { ROOT } from '../lib/server.js'
import type { Mode, Store, SystemName } from './systems.js'

/** One timed window of one system. */
export interface Group {
  store: Store
  mode: Mode
  system: SystemName
  /** The peer this group is paired with (baton's groups) or itself. */
  pairedWith: SystemName
  round: number
  /** 1-minute load average when the group started. */
  loadAverage1m: number
  rps: number
  latencyMs: LoadResult['latencyMs']
  non2xx: number
  errors: number
  brokenLanes: number
  firstBroken: string | null
  serverCores: number
  loadgenCores: number
}

export interface RatioRow {
  store: Store
  mode: Mode
  peer: SystemName
  batonRps: number
  peerRps: number
  ratioMedian: number
  ratioMin: number
  ratioMax: number
  /** Per server CPU second (requests per core the server used), baton over peer. */
  perCoreRatioMedian: number
  batonP99: number
  peerP99: number
  load: [number, number]
  failures: { baton: number; peer: number }
  rounds: number
}

export function ratios(groups: Group[]): RatioRow[] {
  const out: RatioRow[] = []
  const keys = new Set(groups.filter((g) => g.system !== 'baton').map((g) => `${g.store}|${g.mode}|${g.system}`))
  for (const key of keys) {
    const [store, mode, peer] = key.split('|') as [Store, Mode, SystemName]
    const mine = groups.filter((g) => g.store === store && g.mode === mode && g.pairedWith === peer)
    const rounds = [...new Set(mine.map((g) => g.round))]
    const pairs = rounds.flatMap((r) => {
      const b = mine.find((g) => g.round === r && g.system === 'baton')
      const p = mine.find((g) => g.round === r && g.system === peer)
      return b === undefined || p === undefined ? [] : [[b, p] as const]
    })
    if (pairs.length === 0) continue
    const r = pairs.map(([b, p]) => (p.rps === 0 ? Infinity : b.rps / p.rps))
    const perCore = pairs.map(([b, p]) => {
      const bc = b.serverCores > 0 ? b.rps / b.serverCores : 0
      const pc = p.serverCores > 0 ? p.rps / p.serverCores : 0
      return pc === 0 ? Infinity : bc / pc
    })
    const fails = (g: Group) => g.non2xx + g.errors + g.brokenLanes
    out.push({
      store,
      mode,
      peer,
      batonRps: Math.round(median(pairs.map(([b]) => b.rps))),
      peerRps: Math.round(median(pairs.map(([, p]) => p.rps))),
      ratioMedian: round2(median(r)),
      ratioMin: round2(Math.min(...r)),
      ratioMax: round2(Math.max(...r)),
      perCoreRatioMedian: round2(median(perCore)),
      batonP99: round2(median(pairs.map(([b]) => b.latencyMs.p99))),
      peerP99: round2(median(pairs.map(([, p]) => p.latencyMs.p99))),
      load: [Math.min(...mine.map((g) => g.loadAverage1m)), Math.max(...mine.map((g) => g.loadAverage1m))],
      failures: { baton: pairs.reduce((n, [b]) => n + fails(b), 0), peer: pairs.reduce((n, [, p]) => n + fails(p), 0) },
      rounds: pairs.length,
    })
  }
  return out
}

const WHAT: Record<SystemName, Record<Mode, string>> = {
  baton: { refresh: 'POST /api/auth/refresh/', protected: 'GET /api/me/', 'protected-jwt': 'GET /api/me/', login: 'POST /api/auth/token/' },
  django: { refresh: 'POST /api/token/refresh/', protected: 'GET /api/me/', 'protected-jwt': '-', login: 'POST /api/token/' },
  'better-auth': {
    refresh: 'GET /api/auth/token',
    protected: 'GET /api/auth/get-session',
    'protected-jwt': 'its JWT, jose + JWKS',
    login: 'POST /api/auth/sign-in/email',
  },
}

export function table(rows: RatioRow[]): string {
  const header = [
    'store',
    'mode',
    'peer (route)',
    'baton req/s',
    'peer req/s',
    'baton / peer (median)',
    'range',
    'per server core',
    'p99 ms baton / peer',
    'load 1m',
    'failures b/p',
  ]
  const lines = rows.map((r) => [
    r.store,
    r.mode,
    `${r.peer} (${WHAT[r.peer][r.mode]})`,
    r.batonRps.toLocaleString('en-US'),
    r.peerRps.toLocaleString('en-US'),
    `**${fmt(r.ratioMedian)}x**`,
    `${fmt(r.ratioMin)}-${fmt(r.ratioMax)}x (${r.rounds})`,
    `${fmt(r.perCoreRatioMedian)}x`,
    `${fmt(r.batonP99)} / ${fmt(r.peerP99)}`,
    `${r.load[0]}-${r.load[1]}`,
    `${r.failures.baton}/${r.failures.peer}`,
  ])
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [row(header), row(header.map(() => '---')), ...lines.map(row)].join('\n')
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return 'inf'
  return x >= 100 ? String(Math.round(x)) : x >= 10 ? x.toFixed(1) : x.toFixed(2)
}

export interface Machine {
  cpu: string
  cores: number
  memGiB: number
  kernel: string
  node: string
  commit: string
}

export function machine(): Machine {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    commit,
  }
}

const BEGIN = '<!-- peers-table:begin -->'
const END = '<!-- peers-table:end -->'

/** The dated block between the markers of bench/README.md's "Peers" section. */
export function readmeBlock(rows: RatioRow[], m: Machine, started: string, command: string, note: string): string {
  const low = Math.min(...rows.map((r) => r.load[0]))
  const high = Math.max(...rows.map((r) => r.load[1]))
  return [
    `Run of ${started.slice(0, 16).replace('T', ' ')} UTC, commit ${m.commit}, ${m.cores} x ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, node ${m.node}; ` +
      `1-minute load average ${low}-${high} at the groups' starts (${m.cores} cores${high > m.cores ? ': a loaded machine, read the ratios as rough' : ''}):`,
    '',
    '```sh',
    command,
    '```',
    '',
    table(rows),
    ...(note === '' ? [] : ['', note]),
  ].join('\n')
}

/** Replaces only what lies between the markers (the rest of the README belongs to others). */
export function writeReadme(block: string): boolean {
  const file = join(ROOT, 'bench/README.md')
  const text = readFileSync(file, 'utf8')
  const a = text.indexOf(BEGIN)
  const b = text.indexOf(END)
  if (a < 0 || b < a) return false
  writeFileSync(file, `${text.slice(0, a + BEGIN.length)}\n${block}\n${text.slice(b)}`)
  return true
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n === 0 ? 0 : n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}

function round2(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : x
}
