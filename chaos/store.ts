/**
 * The store side of a chaos run, whatever its shape: the Sentinel group (topology.ts, the
 * default) or a Redis Cluster (cluster.ts, `--cluster`). main.ts sees only this.
 */
import type { Redis } from 'ioredis'
import type { BatonInstance } from './baton-instance.js'
import type { StoreFaults } from './faults.js'
import { sentinelFaults } from './redis-faults.js'
import { startTopology, type TopologyOptions } from './topology.js'

export interface ChaosStore {
  readonly batons: readonly [BatonInstance, BatonInstance]
  readonly faults: StoreFaults
  /** One line for the log: where everything listens. */
  readonly describe: string
  /** Every key the primaries hold, and those without a TTL (SPEC §3: nothing grows without bound). */
  keys(): Promise<{ total: number; withoutTTL: string[] }>
  /** `used_memory` of the largest primary now, or null when none answers. */
  usedMemory(): Promise<number | null>
  stop(): Promise<void>
}

export async function startSentinelStore(options: TopologyOptions): Promise<ChaosStore> {
  const topology = await startTopology(options)
  return {
    batons: topology.batons,
    faults: sentinelFaults(topology),
    describe: `Sentinel group (sentinels ${topology.sentinels.map((s) => s.port).join(', ')}), batons ${topology.batons.map((b) => b.url).join(', ')}`,
    async keys() {
      const client = (await topology.primary()).server.client()
      try {
        return await keysWithoutTTL(client)
      } finally {
        client.disconnect()
      }
    },
    async usedMemory() {
      const info = await (await topology.primary()).server.command('INFO', 'memory').catch(() => '')
      return usedMemoryOf(String(info))
    },
    stop: () => topology.stop(),
  }
}

export function usedMemoryOf(info: string): number | null {
  const m = /used_memory:(\d+)/.exec(info)
  return m === null ? null : Number(m[1])
}

/** SCANs one node: every key, and those without a TTL. */
export async function keysWithoutTTL(client: Redis): Promise<{ total: number; withoutTTL: string[] }> {
  let cursor = '0'
  let total = 0
  const withoutTTL: string[] = []
  for (let round = 0; round < 100_000; round++) {
    const [next, keys] = (await client.scan(cursor, 'COUNT', 1000)) as [string, string[]]
    total += keys.length
    const ttls = await Promise.all(keys.map((k) => client.pttl(k)))
    keys.forEach((k, i) => {
      if ((ttls[i] as number) < 0) withoutTTL.push(`${k} (PTTL ${ttls[i]})`)
    })
    cursor = next
    if (cursor === '0') break
  }
  return { total, withoutTTL }
}
