/**
 * The fault schedule (drawn from the seed) and its injection, in two lanes that overlap: one for
 * Redis (the primary the Sentinels name at that moment, or its proxy), one for the baton
 * instances. Each fault's start and end are recorded; after each, the recovery probe measures how
 * long the service took to refresh again (SPEC §4: 2 s), and revoked tokens are tried again.
 */
import { freePort, waitFor } from '../packages/server/test/helpers/redis-server.js'
import { recordingFetch, type FaultRecord, type History } from './history.js'
import type { Random } from './random.js'
import type { DataNode, Topology } from './topology.js'
import type { Revoked } from './users.js'

export const REDIS_FAULTS = ['redis-kill', 'redis-stop', 'client-pause', 'debug-sleep', 'failover', 'readonly', 'latency', 'reset'] as const
export const BATON_FAULTS = ['baton-kill', 'baton-term'] as const
export type FaultKind = (typeof REDIS_FAULTS)[number] | (typeof BATON_FAULTS)[number]

export interface PlannedFault {
  kind: FaultKind
  /** How long it lasts, ms (for a kill: until the restart). */
  durationMs: number
  /** Proxy latency; baton instance index. */
  param: number
  /** Pause before it, ms. */
  gapMs: number
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
    const durationMs =
      kind === 'latency'
        ? random.range(1000, 4000)
        : kind === 'reset'
          ? random.range(200, 1000)
          : kind === 'readonly'
            ? random.range(300, 900)
            : kind === 'redis-kill'
              ? random.range(300, 4000)
              : kind === 'redis-stop'
                ? random.range(300, 2500)
                : kind === 'failover'
                  ? 0
                  : kind.startsWith('baton')
                    ? random.range(200, 2000)
                    : random.range(300, 1500)
    plan.push({ kind, durationMs, param: kind === 'latency' ? random.int(50, 400) : random.int(0, 1), gapMs: random.range(1500, 5000) })
  }
  return plan
}

export interface FaultContext {
  topology: Topology
  history: History
  random: Random
  deadline: number
  revoked: Revoked[]
  revokedProbes: { index: number; t: number; status: number | null; code?: string; after: string }[]
  recovery: Map<FaultRecord, number | null>
  log: (line: string) => void
  password: string
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits (bounded) until a primary answers and the other node replicates it; repairs if not. */
async function settleRedis(ctx: FaultContext): Promise<string | undefined> {
  try {
    await waitFor(
      async () => {
        const primary = await ctx.topology.primary()
        const role = String(await primary.server.command('INFO', 'replication'))
        const other = String(await ctx.topology.replicaOf(primary).server.command('INFO', 'replication'))
        return role.includes('role:master') && other.includes('role:slave') && other.includes('master_link_status:up')
      },
      25_000,
      'redis to settle',
    )
    return undefined
  } catch {
    // Sentinel did not reconfigure the other node in time: do what an operator would.
    const primary = await ctx.topology.primary()
    const other = ctx.topology.replicaOf(primary)
    await other.server.command('REPLICAOF', '127.0.0.1', primary.proxy.port).catch(() => undefined)
    return `repaired: ${other.name} made a replica of ${primary.name} by hand`
  }
}

async function injectRedis(ctx: FaultContext, fault: PlannedFault): Promise<FaultRecord> {
  const primary = await ctx.topology.primary()
  const record: FaultRecord = { kind: fault.kind, target: primary.name, start: Date.now(), end: 0, failedOver: false, destroysData: false }
  const s = primary.server
  switch (fault.kind) {
    case 'redis-kill':
      // No persistence: the restarted node is empty; a failover (or not) decides what is lost.
      record.destroysData = true
      await s.kill()
      try {
        await sleep(fault.durationMs)
      } finally {
        await undo('the kill (restart)', () => primary.restart())
      }
      break
    case 'redis-stop':
      s.pause()
      try {
        await sleep(fault.durationMs)
      } finally {
        s.resume()
      }
      break
    case 'client-pause':
      await s.command('CLIENT', 'PAUSE', Math.round(fault.durationMs), 'ALL')
      await sleep(fault.durationMs)
      break
    case 'debug-sleep':
      await s.command('DEBUG', 'SLEEP', (fault.durationMs / 1000).toFixed(2))
      break
    case 'failover': {
      const sentinel = ctx.random.pick(ctx.topology.sentinels)
      record.destroysData = true
      await sentinel.command('SENTINEL', 'FAILOVER', 'mymaster').catch((e: unknown) => (record.note = `refused: ${String(e)}`))
      await waitFor(async () => (await ctx.topology.primary()) !== primary, 20_000, 'the failover').catch(
        () => (record.note = 'no switch within 20 s'),
      )
      break
    }
    case 'readonly': {
      // A primary turned replica of nothing: read-only, data kept (no sync can start).
      const nowhere = await freePort()
      await s.command('REPLICAOF', '127.0.0.1', nowhere)
      try {
        await sleep(fault.durationMs)
      } finally {
        await undo('read-only (REPLICAOF NO ONE)', () => s.command('REPLICAOF', 'NO', 'ONE'))
      }
      break
    }
    case 'latency':
      record.target = `${primary.name} proxy (${fault.param} ms)`
      primary.proxy.setMode({ latencyMs: fault.param })
      try {
        await sleep(fault.durationMs)
      } finally {
        primary.proxy.setMode('pass')
      }
      break
    case 'reset':
      record.target = `${primary.name} proxy`
      primary.proxy.setMode('reset')
      try {
        await sleep(fault.durationMs)
      } finally {
        primary.proxy.setMode('pass')
      }
      break
    default:
      throw new Error(`not a Redis fault: ${fault.kind}`)
  }
  record.end = Date.now()
  return record
}

/**
 * Undoes an injected fault, retrying for up to 30 s: on a loaded machine one command can time out,
 * and a fault left in place (a primary still a replica of nowhere) would fail the rest of the run
 * for a reason that is the harness's, not baton's (seen in a 30-minute run at load 15).
 */
async function undo(what: string, action: () => Promise<unknown>): Promise<void> {
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

/** After a Redis fault: waits for the group to settle, then notes whether it failed over. */
async function afterRedisFault(ctx: FaultContext, record: FaultRecord, before: string): Promise<void> {
  const note = await settleRedis(ctx)
  if (note !== undefined) record.note = note
  const after: DataNode = await ctx.topology.primary()
  if (after.name !== before) {
    record.failedOver = true
    record.destroysData = true
  }
}

async function injectBaton(ctx: FaultContext, fault: PlannedFault): Promise<FaultRecord> {
  const inst = fault.param
  const baton = ctx.topology.batons[inst === 1 ? 1 : 0]
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
  const urls = ctx.topology.batons.map((b) => b.url)
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
  const urls = ctx.topology.batons.map((b) => b.url)
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
export async function runLane(ctx: FaultContext, plan: PlannedFault[], quietFrom: number, sessions: ProbeSession[]): Promise<void> {
  for (const fault of plan) {
    await sleep(fault.gapMs)
    if (Date.now() + fault.durationMs > quietFrom) return
    let record: FaultRecord
    try {
      record = fault.kind.startsWith('baton') ? await injectBaton(ctx, fault) : await injectRedis(ctx, fault)
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
        fault.kind.startsWith('baton') ? Promise.resolve() : afterRedisFault(ctx, record, record.target.split(' ')[0] as string),
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
