/**
 * The Redis Cluster store of a chaos run (`npm run chaos -- --cluster`): three primaries, each
 * with one replica, on free loopback ports (no persistence, as the Sentinel group), and two
 * `baton serve` processes from dist/ using it as a Cluster (REDIS_CLUSTER), sharing one user
 * database and one development key. Its faults are in cluster-faults.ts.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { startRedisCluster, type RedisServer } from '../packages/server/test/helpers/redis-server.js'
import { batonEnv, startBatonPair, stopStack, type BatonInstance } from './baton-instance.js'
import { clusterFaults } from './cluster-faults.js'
import { keysWithoutTTL, usedMemoryOf, type ChaosStore } from './store.js'
import { BATON_REDIS_USER, type TopologyOptions } from './topology.js'

export const PRIMARIES = 3

export interface ClusterNode {
  /** `redis-cluster:<port>`: a FaultRecord's target starts with `redis` (the oracle reads it so). */
  readonly name: string
  readonly port: number
  readonly server: RedisServer
  /**
   * One command as the `default` user on a short-lived connection, bounded (`timeoutMs`, default
   * 3 s): a SIGSTOPped node accepts the connection and never answers.
   */
  ask(args: (string | number)[], timeoutMs?: number): Promise<unknown>
}

export interface NodeState {
  node: ClusterNode
  role: 'master' | 'slave' | 'down'
  /** The node's cluster id (CLUSTER MYID). */
  id?: string
  /** A replica's primary port; whether its replication link is up. */
  masterPort?: number
  linkUp?: boolean
  connectedReplicas?: number
  clusterOk?: boolean
  /** A primary serves slots (its own CLUSTER NODES line lists some). */
  hasSlots?: boolean
}

export interface ClusterTopology {
  readonly nodes: readonly ClusterNode[]
  readonly batons: readonly [BatonInstance, BatonInstance]
  /** Every node's role and links now (a node that does not answer is `down`). */
  states(): Promise<NodeState[]>
  stop(): Promise<void>
}

function clusterNode(server: RedisServer): ClusterNode {
  return {
    name: `redis-cluster:${server.port}`,
    port: server.port,
    server,
    async ask(args, timeoutMs = 3000) {
      const client = new Redis({
        host: '127.0.0.1',
        port: server.port,
        lazyConnect: true,
        connectTimeout: 2000,
        commandTimeout: timeoutMs,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: true,
      })
      client.on('error', () => undefined)
      try {
        await client.connect()
        return await client.call(String(args[0]), ...args.slice(1))
      } finally {
        client.disconnect()
      }
    },
  }
}

async function stateOf(node: ClusterNode): Promise<NodeState> {
  try {
    const [replication, info, id, nodes] = await Promise.all([
      node.ask(['INFO', 'replication']).then(String),
      node.ask(['CLUSTER', 'INFO']).then(String),
      node.ask(['CLUSTER', 'MYID']).then(String),
      node.ask(['CLUSTER', 'NODES']).then(String),
    ])
    const role = /^role:(\w+)/m.exec(replication)?.[1] === 'slave' ? 'slave' : 'master'
    const myself = nodes.split('\n').find((l) => l.split(' ')[2]?.includes('myself')) ?? ''
    return {
      node,
      role,
      id,
      clusterOk: info.includes('cluster_state:ok'),
      connectedReplicas: Number(/^connected_slaves:(\d+)/m.exec(replication)?.[1] ?? '0'),
      hasSlots: myself.split(' ').length > 8,
      ...(role === 'slave'
        ? { masterPort: Number(/^master_port:(\d+)/m.exec(replication)?.[1] ?? '0'), linkUp: replication.includes('master_link_status:up') }
        : {}),
    }
  } catch {
    return { node, role: 'down' }
  }
}

/** Starts the Cluster and the two batons; ChaosStore for main.ts, the topology for the faults. */
export async function startClusterTopology(options: TopologyOptions): Promise<ClusterTopology> {
  // Also checks the build is there (the batons run from dist/).
  const { stops, stopAll } = stopStack()
  try {
    // Never printed: baton's Redis password for this run only.
    const batonPassword = randomBytes(12).toString('base64url')
    // `local`: DEBUG SLEEP is one of the faults. `rdb-del-sync-files yes`: a node restarted
    // "without persistence" must come back empty, not with the dump.rdb its last full sync as a
    // replica left (topology.ts says why). The helper's `cluster-node-timeout 2000` decides
    // which kills fail over: a primary back within ~2 s keeps its slots (restarted empty).
    const cluster = await startRedisCluster({
      size: PRIMARIES,
      replicas: 1,
      users: [{ name: BATON_REDIS_USER, password: batonPassword }],
      config: ['enable-debug-command local', 'rdb-del-sync-files yes'],
    })
    stops.push(() => cluster.stop())
    const nodes = cluster.nodes.map(clusterNode)

    const [seed, ...others] = nodes
    const env = {
      ...batonEnv(options),
      BATON_STORE: 'redis',
      REDIS_URL: `redis://${BATON_REDIS_USER}:${batonPassword}@127.0.0.1:${(seed as ClusterNode).port}`,
      REDIS_CLUSTER: 'true',
      REDIS_CLUSTER_NODES: others.map((n) => `127.0.0.1:${n.port}`).join(','),
    }
    const batons = await startBatonPair(env, stops)
    return { nodes, batons, states: () => Promise.all(nodes.map(stateOf)), stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}

export async function startClusterStore(options: TopologyOptions): Promise<ChaosStore> {
  const topology = await startClusterTopology(options)
  const primaries = async (): Promise<ClusterNode[]> => (await topology.states()).filter((s) => s.role === 'master').map((s) => s.node)
  const ports = topology.nodes.map((n) => n.port).join(', ')
  return {
    batons: topology.batons,
    faults: clusterFaults(topology),
    describe: `Redis Cluster (${PRIMARIES} primaries + 1 replica each, nodes ${ports}), batons ${topology.batons.map((b) => b.url).join(', ')}`,
    async keys() {
      // SCAN answers one node's keys only: every primary is asked.
      let total = 0
      const withoutTTL: string[] = []
      for (const node of await primaries()) {
        const client = node.server.client()
        try {
          const found = await keysWithoutTTL(client)
          total += found.total
          withoutTTL.push(...found.withoutTTL.map((k) => `${k} on ${node.name}`))
        } finally {
          client.disconnect()
        }
      }
      return { total, withoutTTL }
    },
    async usedMemory() {
      const used = await Promise.all(
        (await primaries()).map(async (n) => usedMemoryOf(String(await n.ask(['INFO', 'memory']).catch(() => '')))),
      )
      const known = used.filter((u): u is number => u !== null)
      return known.length === 0 ? null : Math.max(...known)
    },
    stop: () => topology.stop(),
  }
}
