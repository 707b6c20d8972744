/**
 * The fault schedule (drawn from the seed) and its injection, in two lanes that overlap: one for
 * the store (StoreFaults: redis-faults.ts for the Sentinel group, cluster-faults.ts for a
 * Cluster), one for the baton instances. Each fault's start and end are recorded; after each, the recovery probe measures how
 * long the service took to refresh again (SPEC §4: 2 s), and revoked tokens are tried again.
 */
import { recordingFetch, type FaultRecord, type History } from './history.js'
import type { Random } from './random.js'
import type { BatonInstance } from './baton-instance.js'
import type { Revoked } from './users.js'

export const BATON_FAULTS = ['baton-kill', 'baton-term'] as const
/** A fault's name: one of BATON_FAULTS, or of a store's list (redis-faults.ts, cluster-faults.ts). */
export type FaultKind = string

export interface PlannedFault {
  kind: FaultKind
  /** How long it lasts, ms (for a kill: until the restart). */
  durationMs: number
  /** Proxy latency; baton instance index; a store's own choice. */
  param: number
  /** Pause before it, ms. */
  gapMs: number
}

/** How long each kind lasts, drawn from the seed; kinds not named here last 300–1500 ms. */
const DURATIONS: Record<string, [number, number]> = {
  latency: [1000, 4000],
  reset: [200, 1000],
  partition: [300, 3000],
  readonly: [300, 900],
  'redis-kill': [300, 4000],
  'redis-kill-aof': [300, 4000],
  'redis-stop': [300, 2500],
  oom: [500, 2500],
  'acl-off': [500, 2500],
  failover: [0, 0],
  // The Cluster's (cluster-faults.ts): long enough that some kills and stops fail over (cluster-node-timeout 2 s).
  'cluster-kill': [500, 6000],
  'cluster-stop': [500, 5000],
  'cluster-sleep': [300, 4000],
  'cluster-failover': [0, 0],
  'cluster-kill-replica': [300, 4000],
  'cluster-acl-off': [500, 2500],
  'cluster-oom': [500, 2500],
  'cluster-pause': [300, 2500],
  'baton-kill': [200, 2000],
  'baton-term': [200, 2000],
}

/** A lane's list, long enough for any run (the lane stops at the deadline). */
export function planFaults(random: Random, kinds: readonly FaultKind[], count: number): PlannedFault[] {
  const plan: PlannedFault[] = []
  // Every kind once first (in a seeded order), then uniformly: a short run still sees them all.
  const first = [...kinds]
  for (let i = first.length - 1; i > 0; i--) {
    const j = random.int(0, i)
    ;[first[i], first[j]] = [first[j] as FaultKind, first[i] as FaultKind]
  }
  for (let i = 0; i < count; i++) {
    const kind = i < first.length ? (first[i] as FaultKind) : random.pick(kinds)
    const [lo, hi] = DURATIONS[kind] ?? [300, 1500]
    const durationMs = hi === 0 ? 0 : random.range(lo, hi)
    plan.push({ kind, durationMs, param: kind === 'latency' ? random.int(50, 400) : random.int(0, 1), gapMs: random.range(1500, 5000) })
  }
  return plan
}

/** A store's faults (Sentinel group: redis-faults.ts; Cluster: cluster-faults.ts). */
export interface StoreFaults {
  readonly kinds: readonly FaultKind[]
  /** Injects one planned fault and undoes it; the record's `end` is set. */
  inject(ctx: FaultContext, fault: PlannedFault): Promise<FaultRecord>
  /** After the fault: waits (bounded) for the store to settle; sets failedOver, destroysData, note. */
  after(ctx: FaultContext, record: FaultRecord): Promise<void>
}

export interface FaultContext {
  batons: readonly [BatonInstance, BatonInstance]
  history: History
  random: Random
  deadline: number
  revoked: Revoked[]
  revokedProbes: { index: number; t: number; status: number | null; code?: string; after: string }[]
  recovery: Map<FaultRecord, number | null>
  log: (line: string) => void
  password: string
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Lets a fault last `ms`, then ends it: in a `finally`, so no fault is ever left in place. */
export async function lasting(ms: number, end: () => unknown): Promise<void> {
  try {
    await sleep(ms)
  } finally {
    await end()
  }
}

/**
 * Undoes an injected fault, retrying for up to 30 s: on a loaded machine one command can time out,
 * and a fault left in place (a primary still a replica of nowhere) would fail the rest of the run
 * for a reason that is the harness's, not baton's (seen in a 30-minute run at load 15).
 */
export async function undo(what: string, action: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await action()
      return
    } catch (err) {
      if (attempt >= 120) throw new Error(`could not undo ${what}: ${String(err)}`)
      await sleep(250)
    }
  }
}

async function injectBaton(ctx: FaultContext, fault: PlannedFault): Promise<FaultRecord> {
  const inst = fault.param
  const baton = ctx.batons[inst === 1 ? 1 : 0]
  const record: FaultRecord = { kind: fault.kind, target: baton.name, start: Date.now(), end: 0, failedOver: false, destroysData: false }
  await baton.stop(fault.kind === 'baton-kill' ? 'SIGKILL' : 'SIGTERM')
  await sleep(fault.durationMs)
  await baton.start()
  record.end = Date.now()
  ctx.history.downtime.push({ inst, start: record.start, end: record.end })
  return record
}

interface ProbeSession {
  refresh: string | null
}

/**
 * From the fault's end, refreshes a probe session on each instance every 100 ms until both
 * answer 200 (logging in again where the fault destroyed the probe's session): ms, or null
 * past 30 s.
 */
async function measureRecovery(ctx: FaultContext, end: number, sessions: ProbeSession[]): Promise<number | null> {
  const urls = ctx.batons.map((b) => b.url)
  const done = [false, false]
  let last = end
  for (let round = 0; round < 300 && done.includes(false); round++) {
    await Promise.all(
      [0, 1].map(async (inst) => {
        if (done[inst]) return
        const session = sessions[inst] as ProbeSession
        const send = recordingFetch(ctx.history, 'probe', urls, () => inst)
        const json = { 'content-type': 'application/json' }
        try {
          if (session.refresh === null) {
            const r = await send(`${urls[inst]}/api/auth/token/`, {
              method: 'POST',
              headers: json,
              body: JSON.stringify({ username: 'chaos-probe', password: ctx.password }),
            })
            if (r.ok) session.refresh = ((await r.json()) as { refresh: string }).refresh
            return
          }
          const r = await send(`${urls[inst]}/api/auth/refresh/`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ refresh: session.refresh }),
          })
          if (r.ok) {
            session.refresh = ((await r.json()) as { refresh: string }).refresh
            done[inst] = true
            last = Math.max(last, Date.now())
          } else if (r.status === 401) session.refresh = null
        } catch {
          // down or reset: next round
        }
      }),
    )
    if (done.includes(false)) await sleep(100)
  }
  return done.includes(false) ? null : last - end
}

/** Tries up to `limit` revoked tokens again (all with no limit): each must stay refused. */
export async function probeRevoked(ctx: FaultContext, after: string, limit?: number): Promise<void> {
  const urls = ctx.batons.map((b) => b.url)
  const indexes = ctx.revoked.map((_, i) => i)
  const chosen =
    limit === undefined
      ? indexes
      : Array.from({ length: Math.min(limit, indexes.length) }, () => indexes.splice(ctx.random.int(0, indexes.length - 1), 1)[0] as number)
  for (const index of chosen) {
    const entry = ctx.revoked[index] as Revoked
    const inst = ctx.random.int(0, 1)
    const send = recordingFetch(ctx.history, 'revoked-probe', urls, () => inst)
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const r = await send(`${urls[inst]}/api/auth/refresh/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh: entry.token }),
        })
        const body = (await r.json().catch(() => ({}))) as { code?: string }
        ctx.revokedProbes.push({ index, t: Date.now(), status: r.status, ...(body.code === undefined ? {} : { code: body.code }), after })
        if (r.status !== 503) break
      } catch {
        ctx.revokedProbes.push({ index, t: Date.now(), status: null, after })
      }
      await sleep(500)
    }
  }
}

/** Runs one lane until the deadline (minus a quiet tail), each fault then its recovery probe. */
export async function runLane(
  ctx: FaultContext,
  plan: PlannedFault[],
  quietFrom: number,
  sessions: ProbeSession[],
  store: StoreFaults,
): Promise<void> {
  for (const fault of plan) {
    await sleep(fault.gapMs)
    if (Date.now() + fault.durationMs > quietFrom) return
    let record: FaultRecord
    try {
      record = fault.kind.startsWith('baton') ? await injectBaton(ctx, fault) : await store.inject(ctx, fault)
    } catch (err) {
      ctx.log(`fault ${fault.kind} could not be injected: ${String(err)}`)
      continue
    }
    ctx.history.faults.push(record)
    try {
      // Recovery is measured from the fault's end while the Redis group settles (Sentinel may
      // take seconds to demote a restarted node; the service should not wait for that).
      const [ms] = await Promise.all([
        measureRecovery(ctx, record.end, sessions),
        fault.kind.startsWith('baton') ? Promise.resolve() : store.after(ctx, record),
      ])
      ctx.recovery.set(record, ms)
      ctx.log(
        `fault ${record.kind} on ${record.target}: ${record.end - record.start} ms, recovery ${ms ?? 'none'} ms${record.failedOver ? ', failed over' : ''}${record.note ? ` (${record.note})` : ''}`,
      )
      await probeRevoked(ctx, `${record.kind}@${record.start}`, 10)
    } catch (err) {
      // The lane goes on: one step of the harness failing must not end the faults for the run.
      ctx.log(`fault ${record.kind} on ${record.target}: after the fault, ${String(err)}`)
    }
  }
}

export function newProbeSessions(): ProbeSession[] {
  return [{ refresh: null }, { refresh: null }]
}
