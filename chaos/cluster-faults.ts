/**
 * The faults of the Redis Cluster store (cluster.ts), for the store lane of faults.ts. Each is
 * injected on a node chosen from the seed (a primary, or for two kinds a replica) and undone in
 * a `finally`; afterwards the Cluster is waited for (bounded) and what happened is noted.
 *
 * Whether a fault failed over and whether it wiped its shard are measured, not assumed: before
 * it, a marker key (with a TTL) is written to a slot of the shard and confirmed by its replica
 * (WAIT); afterwards the slot's owner says whether it moved, and the marker whether the shard's
 * data survived. A primary SIGKILLed and back within cluster-node-timeout (2 s) keeps its slots
 * and comes back empty: its replica then syncs the empty node, and the shard is wiped. Longer,
 * the replica is promoted and only writes it never received are lost.
 */
import { lasting, sleep, undo, type FaultContext, type PlannedFault, type StoreFaults } from './faults.js'
import type { FaultRecord } from './history.js'
import type { ClusterNode, ClusterTopology, NodeState } from './cluster.js'
import { PRIMARIES } from './cluster.js'
import { BATON_REDIS_USER } from './topology.js'

export const CLUSTER_FAULTS = [
  'cluster-kill',
  'cluster-stop',
  'cluster-failover',
  'cluster-pause',
  'cluster-sleep',
  'cluster-kill-replica',
  'cluster-acl-off',
  'cluster-oom',
] as const

/** How long after() waits for the Cluster before repairing it, and after a repair. */
const SETTLE_MS = 30_000
const REPAIRED_SETTLE_MS = 15_000
const MARKER_TTL_MS = 600_000

/** What inject() learnt before the fault, for after(). */
interface Shard {
  /** The primary that served the marker's slot before the fault. */
  owner: ClusterNode
  marker: string | null
}

export function clusterFaults(cluster: ClusterTopology): StoreFaults {
  const shards = new WeakMap<FaultRecord, Shard>()
  return {
    kinds: CLUSTER_FAULTS,
    async inject(ctx, fault) {
      const { record, shard } = await injectCluster(cluster, ctx, fault)
      shards.set(record, shard)
      return record
    },
    async after(_ctx, record) {
      const shard = shards.get(record)
      if (shard !== undefined) await afterClusterFault(cluster, record, shard)
    },
  }
}

/** Every node answers, cluster_state:ok everywhere, PRIMARIES primaries with slots, each replica linked. */
export function settled(states: readonly NodeState[]): boolean {
  if (states.some((s) => s.role === 'down' || s.clusterOk !== true)) return false
  const primaries = states.filter((s) => s.role === 'master')
  const replicas = states.filter((s) => s.role === 'slave')
  return (
    primaries.length === PRIMARIES &&
    primaries.every((p) => p.hasSlots === true && (p.connectedReplicas ?? 0) >= 1) &&
    replicas.every((r) => r.linkUp === true && primaries.some((p) => p.node.port === r.masterPort))
  )
}

async function waitSettled(cluster: ClusterTopology, ms: number): Promise<NodeState[] | null> {
  const until = Date.now() + ms
  for (;;) {
    const states = await cluster.states()
    if (settled(states)) return states
    if (Date.now() > until) return null
    await sleep(200)
  }
}

/**
 * What an operator would do for a Cluster that did not settle: restart a node that does not
 * answer (keeping its nodes.conf), and make a primary without slots the replica of a primary
 * without a replica.
 */
async function repair(cluster: ClusterTopology, states: NodeState[]): Promise<string[]> {
  const done: string[] = []
  for (const s of states.filter((x) => x.role === 'down')) {
    await undo(`restart of ${s.node.name}`, () => s.node.server.restart())
    done.push(`${s.node.name} restarted`)
  }
  const orphans = states.filter((s) => s.role === 'master' && s.hasSlots === false)
  const lonely = states.filter((s) => s.role === 'master' && s.hasSlots === true && (s.connectedReplicas ?? 0) === 0)
  for (const [i, orphan] of orphans.entries()) {
    const primary = lonely[i]
    if (primary?.id === undefined) break
    await orphan.node.ask(['CLUSTER', 'REPLICATE', primary.id]).catch(() => undefined)
    done.push(`${orphan.node.name} made a replica of ${primary.node.name}`)
  }
  return done
}

async function primaries(cluster: ClusterTopology): Promise<NodeState[]> {
  return (await cluster.states()).filter((s) => s.role === 'master' && s.hasSlots === true)
}

/** Writes a marker (TTL'd) to a slot `node` serves and waits for a replica to confirm it; its key, or null. */
async function writeMarker(node: ClusterNode, start: number): Promise<string | null> {
  for (let n = 0; n < 64; n++) {
    const key = `chaos:marker:${start}:{${n}}`
    try {
      await node.ask(['SET', key, String(start), 'PX', MARKER_TTL_MS])
    } catch (err) {
      if (String(err).includes('MOVED')) continue
      return null
    }
    await node.ask(['WAIT', 1, 2000]).catch(() => undefined)
    return key
  }
  return null
}

/** The primary serving `key`'s slot now and whether the key is there (asks every primary: the others answer MOVED). */
async function readMarker(cluster: ClusterTopology, key: string): Promise<{ owner: ClusterNode; present: boolean } | null> {
  for (const p of await primaries(cluster)) {
    try {
      const value = await p.node.ask(['GET', key])
      await p.node.ask(['DEL', key]).catch(() => undefined)
      return { owner: p.node, present: value !== null }
    } catch {
      // MOVED (another primary serves it), or no answer: the next
    }
  }
  return null
}

async function injectCluster(
  cluster: ClusterTopology,
  ctx: FaultContext,
  fault: PlannedFault,
): Promise<{ record: FaultRecord; shard: Shard }> {
  const states = await cluster.states()
  const candidates = states.filter((s) => s.role === 'master' && s.hasSlots === true)
  if (candidates.length === 0) throw new Error('no primary with slots answers')
  const primary = ctx.random.pick(candidates)
  const replica = states.find((s) => s.role === 'slave' && s.masterPort === primary.node.port)
  const onReplica = fault.kind === 'cluster-failover' || fault.kind === 'cluster-kill-replica'
  if (onReplica && replica === undefined) throw new Error(`${primary.node.name} has no replica`)
  const target = onReplica ? (replica as NodeState).node : primary.node
  const start = Date.now()
  const shard: Shard = { owner: primary.node, marker: await writeMarker(primary.node, start) }
  const record: FaultRecord = { kind: fault.kind, target: target.name, start: Date.now(), end: 0, failedOver: false, destroysData: false }
  const s = target.server
  switch (fault.kind) {
    case 'cluster-kill':
    case 'cluster-kill-replica':
      // No persistence: the node restarts empty with its nodes.conf (the dir is kept), so it
      // rejoins with the role it had, or as a replica when its shard failed over meanwhile.
      record.destroysData = fault.kind === 'cluster-kill'
      await s.kill()
      await lasting(fault.durationMs, () => undo('the kill (restart)', () => s.restart()))
      break
    case 'cluster-stop':
      // SIGSTOP: connections stay open, nothing answers, not even the Cluster bus: past
      // cluster-node-timeout the replica is promoted, and the node demoted when it wakes.
      s.pause()
      await lasting(fault.durationMs, () => s.resume())
      break
    case 'cluster-failover':
      // Manual and coordinated: the primary stops its clients until the replica has caught up,
      // then they swap; nothing acknowledged is lost. Clients are moved with MOVED.
      await target.ask(['CLUSTER', 'FAILOVER']).catch((e: unknown) => (record.note = `refused: ${String(e)}`))
      break
    case 'cluster-pause':
      await target.ask(['CLIENT', 'PAUSE', Math.round(fault.durationMs), 'ALL'])
      await lasting(fault.durationMs, () => undo('CLIENT UNPAUSE', () => target.ask(['CLIENT', 'UNPAUSE'])))
      break
    case 'cluster-sleep':
      // The whole process sleeps, the Cluster bus with it (past cluster-node-timeout: a failover).
      await target.ask(['DEBUG', 'SLEEP', (fault.durationMs / 1000).toFixed(2)], fault.durationMs + 5000).catch(() => undefined)
      break
    case 'cluster-acl-off':
      // baton's ACL user disabled on this primary only: its connections there are killed and
      // every reconnect is refused (WRONGPASS); the other shards still answer.
      record.target = `${target.name} user ${BATON_REDIS_USER}`
      await target.ask(['ACL', 'SETUSER', BATON_REDIS_USER, 'off'])
      await target.ask(['CLIENT', 'KILL', 'USER', BATON_REDIS_USER]).catch(() => undefined)
      await lasting(fault.durationMs, () => undo('ACL SETUSER on', () => target.ask(['ACL', 'SETUSER', BATON_REDIS_USER, 'on'])))
      break
    case 'cluster-oom':
      // maxmemory under use, noeviction: this shard refuses every write with OOM, reads answer.
      await target.ask(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'])
      await target.ask(['CONFIG', 'SET', 'maxmemory', '1'])
      await lasting(fault.durationMs, () =>
        undo('maxmemory (CONFIG SET maxmemory 0)', () => target.ask(['CONFIG', 'SET', 'maxmemory', '0'])),
      )
      break
    default:
      throw new Error(`not a Cluster fault: ${fault.kind}`)
  }
  record.end = Date.now()
  return { record, shard }
}

/** After a Cluster fault: waits for it to settle (repairs if not), then notes a failover and a wiped shard. */
async function afterClusterFault(cluster: ClusterTopology, record: FaultRecord, shard: Shard): Promise<void> {
  const t0 = Date.now()
  const notes: string[] = []
  let states = await waitSettled(cluster, SETTLE_MS)
  if (states === null) {
    const done = await repair(cluster, await cluster.states())
    notes.push(`not settled in ${SETTLE_MS / 1000} s; repaired: ${done.join(', ') || 'nothing to do'}`)
    states = await waitSettled(cluster, REPAIRED_SETTLE_MS)
    if (states === null) notes.push('still not settled')
  }
  if (states !== null) notes.push(`settled in ${Date.now() - t0} ms`)
  if (shard.marker !== null) {
    const found = await readMarker(cluster, shard.marker)
    if (found === null) notes.push('marker unreadable')
    else {
      // The slot's owner changed: the replica was promoted (by the Cluster or by the fault).
      if (found.owner !== shard.owner) {
        record.failedOver = true
        notes.push(`${shard.owner.name} → ${found.owner.name}`)
      }
      // Measured, for the oracle: a failed-over kill can wipe its shard too (the replica synced the
      // restarted empty node before its promotion), and a kill without one may find it empty.
      record.wiped = !found.present
      if (!found.present) {
        // The shard's data is gone (a restart before any failover, or a replica that synced
        // the restarted empty node before it was promoted).
        record.destroysData = true
        notes.push(`shard wiped${record.failedOver ? ' (promoted replica had synced the empty node)' : ''}`)
      }
    }
  } else notes.push('no marker (could not be written)')
  // A failover that was not coordinated loses what the replica had not received; a demoted
  // primary that wakes (SIGCONT, DEBUG SLEEP) may take writes before it learns it was demoted.
  if (record.failedOver && record.kind !== 'cluster-failover') record.destroysData = true
  record.note = [record.note, ...notes].filter(Boolean).join('; ')
}
