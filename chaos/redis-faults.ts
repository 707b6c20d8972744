/**
 * The faults of the Sentinel group (topology.ts): each is injected on the primary the Sentinels
 * name at that moment (or on its fault proxy) and undone in a `finally`; afterwards the group is
 * waited for (bounded) and a failover noted. `redis-kill` restarts the node empty (no
 * persistence); `redis-kill-aof` turns the AOF on first, so the node comes back with its data.
 */
import { freePort, waitFor } from '../packages/server/test/helpers/redis-server.js'
import { lasting, sleep, undo, type FaultContext, type PlannedFault, type StoreFaults } from './faults.js'
import type { FaultRecord } from './history.js'
import { BATON_REDIS_USER, type DataNode, type Topology } from './topology.js'

export const REDIS_FAULTS = [
  'redis-kill',
  'redis-kill-aof',
  'redis-stop',
  'client-pause',
  'debug-sleep',
  'failover',
  'readonly',
  'oom',
  'acl-off',
  'latency',
  'partition',
  'reset',
] as const

/** The Sentinel group's faults, for the store lane of faults.ts. */
export function sentinelFaults(topology: Topology): StoreFaults {
  return {
    kinds: REDIS_FAULTS,
    inject: (ctx, fault) => injectRedis(topology, ctx, fault),
    after: (_ctx, record) => afterRedisFault(topology, record),
  }
}

/** Waits (bounded) until a primary answers and the other node replicates it; repairs if not. */
async function settleRedis(topology: Topology): Promise<string | undefined> {
  try {
    await waitFor(
      async () => {
        const primary = await topology.primary()
        const role = String(await primary.server.command('INFO', 'replication'))
        const other = String(await topology.replicaOf(primary).server.command('INFO', 'replication'))
        return role.includes('role:master') && other.includes('role:slave') && other.includes('master_link_status:up')
      },
      25_000,
      'redis to settle',
    )
    return undefined
  } catch {
    // Sentinel did not reconfigure the other node in time: do what an operator would.
    const primary = await topology.primary()
    const other = topology.replicaOf(primary)
    await other.server.command('REPLICAOF', '127.0.0.1', primary.proxy.port).catch(() => undefined)
    return `repaired: ${other.name} made a replica of ${primary.name} by hand`
  }
}

async function injectRedis(topology: Topology, ctx: FaultContext, fault: PlannedFault): Promise<FaultRecord> {
  const primary = await topology.primary()
  const record: FaultRecord = { kind: fault.kind, target: primary.name, start: Date.now(), end: 0, failedOver: false, destroysData: false }
  const s = primary.server
  switch (fault.kind) {
    case 'redis-kill':
      // No persistence: the restarted node is empty; a failover (or not) decides what is lost.
      record.destroysData = true
      await s.kill()
      await lasting(fault.durationMs, () => undo('the kill (restart)', () => primary.restart()))
      break
    case 'redis-kill-aof':
      // With persistence (AOF, appendfsync always, turned on just before): the restarted node
      // loads every write it acknowledged, so nothing is lost unless Sentinel failed over.
      await s.command('CONFIG', 'SET', 'appendonly', 'yes')
      await waitFor(
        async () =>
          /aof_enabled:1[\s\S]*aof_rewrite_in_progress:0[\s\S]*aof_rewrite_scheduled:0/.test(
            String(await s.command('INFO', 'persistence')),
          ),
        15_000,
        'the AOF rewrite',
      )
      await s.kill()
      await lasting(fault.durationMs, () => undo('the kill (restart with the AOF)', () => primary.restart({ aof: true })))
      // Later kills of this node are without persistence again.
      await undo('CONFIG SET appendonly no', () => s.command('CONFIG', 'SET', 'appendonly', 'no'))
      break
    case 'oom':
      // maxmemory below what is used, policy noeviction (SPEC: baton's keys must never be
      // evicted): every write is refused with OOM, reads still answer.
      await s.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
      await s.command('CONFIG', 'SET', 'maxmemory', '1')
      await lasting(fault.durationMs, () => undo('maxmemory (CONFIG SET maxmemory 0)', () => s.command('CONFIG', 'SET', 'maxmemory', '0')))
      break
    case 'acl-off':
      // baton's own ACL user disabled, as an operator's mistake or a credential rotation gone
      // wrong: its connections are killed and every reconnect is refused (WRONGPASS).
      record.target = `${primary.name} user ${BATON_REDIS_USER}`
      await s.command('ACL', 'SETUSER', BATON_REDIS_USER, 'off')
      await s.command('CLIENT', 'KILL', 'USER', BATON_REDIS_USER).catch(() => undefined)
      await lasting(fault.durationMs, () => undo('ACL SETUSER on', () => s.command('ACL', 'SETUSER', BATON_REDIS_USER, 'on')))
      break
    case 'redis-stop':
      s.pause()
      await lasting(fault.durationMs, () => s.resume())
      break
    case 'client-pause':
      await s.command('CLIENT', 'PAUSE', Math.round(fault.durationMs), 'ALL')
      await sleep(fault.durationMs)
      break
    case 'debug-sleep':
      await s.command('DEBUG', 'SLEEP', (fault.durationMs / 1000).toFixed(2))
      break
    case 'failover': {
      const sentinel = ctx.random.pick(topology.sentinels)
      record.destroysData = true
      await sentinel.command('SENTINEL', 'FAILOVER', 'mymaster').catch((e: unknown) => (record.note = `refused: ${String(e)}`))
      await waitFor(async () => (await topology.primary()) !== primary, 20_000, 'the failover').catch(
        () => (record.note = 'no switch within 20 s'),
      )
      break
    }
    case 'readonly': {
      // A primary turned replica of nothing: read-only, data kept (no sync can start).
      const nowhere = await freePort()
      await s.command('REPLICAOF', '127.0.0.1', nowhere)
      await lasting(fault.durationMs, () => undo('read-only (REPLICAOF NO ONE)', () => s.command('REPLICAOF', 'NO', 'ONE')))
      break
    }
    case 'latency':
      record.target = `${primary.name} proxy (${fault.param} ms)`
      primary.proxy.setMode({ latencyMs: fault.param })
      await lasting(fault.durationMs, () => primary.proxy.setMode('pass'))
      break
    case 'partition':
      // The proxy forwards nothing either way (TCP still up, bytes held): baton, the replica and
      // the Sentinels all lose the primary for a while, then the held bytes arrive late.
      record.target = `${primary.name} proxy`
      primary.proxy.setMode('blackhole')
      await lasting(fault.durationMs, () => primary.proxy.setMode('pass'))
      break
    case 'reset':
      record.target = `${primary.name} proxy`
      primary.proxy.setMode('reset')
      await lasting(fault.durationMs, () => primary.proxy.setMode('pass'))
      break
    default:
      throw new Error(`not a Redis fault: ${fault.kind}`)
  }
  record.end = Date.now()
  return record
}

/** After a Redis fault: waits for the group to settle, then notes whether it failed over. */
async function afterRedisFault(topology: Topology, record: FaultRecord): Promise<void> {
  const before = record.target.split(' ')[0] as string
  const note = await settleRedis(topology)
  if (note !== undefined) record.note = note
  const after: DataNode = await topology.primary()
  if (after.name !== before) {
    record.failedOver = true
    record.destroysData = true
  }
}
