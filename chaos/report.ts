/**
 * The run's report: one table row per fault kind (injected, requests around it, their outcomes,
 * recovery p50/max), the invariants with excerpts for the failed ones, the seed to replay, and
 * one JSON line at the very end for machines.
 */
import type { Exchange, FaultRecord, History } from './history.js'
import type { Verdict } from './oracle.js'

export interface RunInfo {
  seed: number
  minutes: number
  users: number
  startedAt: number
  endedAt: number
}

/** Around a fault: from its start to 2 s after its end. */
const AROUND_MS = 2_000

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

export interface KindRow {
  kind: string
  injected: number
  failedOver: number
  requests: number
  ok: number
  unauthorized: number
  unavailable: number
  unanswered: number
  other: number
  recoveryP50: number | null
  recoveryMax: number | null
  unmeasured: number
}

/** The first index of `sorted` (by t0) whose t0 is at least `t`. */
function firstAtOrAfter(sorted: readonly Exchange[], t: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] as Exchange).t0 < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

export function faultTable(history: History, recovery: Map<FaultRecord, number | null>): KindRow[] {
  const rows = new Map<string, KindRow & { times: number[] }>()
  // Sorted once: a 30-minute run has ~700k exchanges and ~650 faults (a scan per fault took minutes).
  const byStart = [...history.exchanges].sort((a, b) => a.t0 - b.t0)
  for (const f of history.faults) {
    const row = rows.get(f.kind) ?? {
      kind: f.kind,
      injected: 0,
      failedOver: 0,
      requests: 0,
      ok: 0,
      unauthorized: 0,
      unavailable: 0,
      unanswered: 0,
      other: 0,
      recoveryP50: null,
      recoveryMax: null,
      unmeasured: 0,
      times: [],
    }
    row.injected++
    if (f.failedOver) row.failedOver++
    for (let i = firstAtOrAfter(byStart, f.start); i < byStart.length; i++) {
      const e = byStart[i] as Exchange
      if (e.t0 > f.end + AROUND_MS) break
      if (!e.actor.startsWith(f.actor ?? 'u')) continue
      row.requests++
      if (e.status === null) row.unanswered++
      else if (e.status < 300) row.ok++
      else if (e.status === 401) row.unauthorized++
      else if (e.status === 503) row.unavailable++
      else row.other++
    }
    const ms = recovery.get(f)
    // A client's own fault (f.actor) has no recovery probe: nothing to count as unmeasured.
    if (ms !== null && ms !== undefined) row.times.push(ms)
    else if (f.actor === undefined) row.unmeasured++
    rows.set(f.kind, row)
  }
  return [...rows.values()].map(({ times, ...row }) => ({
    ...row,
    recoveryP50: percentile(times, 0.5),
    recoveryMax: times.length ? Math.max(...times) : null,
  }))
}

function pad(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i] as number)).join('  ')
}

export function formatReport(info: RunInfo, history: History, recovery: Map<FaultRecord, number | null>, verdict: Verdict): string {
  const out: string[] = []
  const ex = history.exchanges
  const rows = faultTable(history, recovery)
  const byKind = new Map<string, number>()
  for (const e of ex) byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + 1)
  out.push(
    `chaos run: seed ${info.seed}, ${info.minutes} min, ${info.users} users, ${((info.endedAt - info.startedAt) / 1000).toFixed(0)} s wall`,
  )
  out.push(`requests: ${ex.length} (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')})`)
  out.push('')
  const head = ['fault', 'injected', 'failover', 'requests', '2xx', '401', '503', 'no answer', 'other', 'recovery p50', 'max']
  const widths = [13, 8, 8, 8, 6, 5, 5, 9, 5, 12, 6]
  out.push(pad(head, widths))
  for (const r of rows) {
    const ms = (v: number | null): string => (v === null ? '—' : `${v} ms`)
    out.push(
      pad(
        [
          r.kind,
          r.injected,
          r.failedOver,
          r.requests,
          r.ok,
          r.unauthorized,
          r.unavailable,
          r.unanswered,
          r.other,
          ms(r.recoveryP50),
          ms(r.recoveryMax) + (r.unmeasured ? ` (+${r.unmeasured} none)` : ''),
        ],
        widths,
      ),
    )
  }
  out.push('')
  out.push('invariants:')
  for (const inv of verdict.invariants) {
    out.push(`  ${inv.pass ? 'pass' : 'FAIL'}  ${inv.name}: ${inv.summary}`)
    for (const line of inv.excerpt) out.push(`          ${line}`)
  }
  const destroyed = verdict.explained.faultDestroyed
  if (destroyed.length > 0) {
    out.push(`logouts caused by data a fault destroyed (${destroyed.length}), each explained:`)
    for (const d of destroyed.slice(0, 20)) out.push(`  ${d.actor} sid=${d.sid}: ${d.why}`)
    if (destroyed.length > 20) out.push(`  … and ${destroyed.length - 20} more`)
  }
  const windows = verdict.explained.unreplicatedUndone
  if (windows.length > 0) {
    out.push(`revocations undone inside a named window (${windows.length}): baton logged revoke_unreplicated, then the primary moved:`)
    for (const w of windows.slice(0, 20)) out.push(`  ${w}`)
  }
  const refork = verdict.explained.forksAfterLoss
  if (refork.length > 0) {
    out.push(`tokens answered a second successor after a fault destroyed the first rotation (${refork.length}):`)
    for (const w of refork.slice(0, 20)) out.push(`  ${w}`)
  }
  const failed = verdict.invariants.filter((i) => !i.pass)
  out.push('')
  out.push(failed.length === 0 ? 'all invariants hold' : `${failed.length} invariant(s) violated`)
  out.push(`replay: npm run chaos -- --seed ${info.seed} --minutes ${info.minutes} --users ${info.users}`)
  const line = {
    seed: info.seed,
    minutes: info.minutes,
    users: info.users,
    requests: ex.length,
    faults: Object.fromEntries(
      rows.map((r) => [
        r.kind,
        { injected: r.injected, failedOver: r.failedOver, recoveryP50Ms: r.recoveryP50, recoveryMaxMs: r.recoveryMax },
      ]),
    ),
    invariants: Object.fromEntries(verdict.invariants.map((i) => [i.name, i.pass])),
    explained: {
      killedInstance: verdict.explained.killedInstance,
      attacked: verdict.explained.attacked,
      ownAction: verdict.explained.ownAction,
      faultDestroyed: destroyed.length,
      unreplicatedUndone: windows.length,
      forksAfterLoss: refork.length,
    },
    violated: failed.length,
  }
  out.push(JSON.stringify(line))
  return out.join('\n') + '\n'
}
