/**
 * Everything the chaos run talks to, on free loopback ports: two Redis data nodes (each behind
 * its own TCP fault proxy, and announcing the proxy's port so the Sentinels, the replication
 * link and baton all go through it), three Sentinels (quorum 2), and two `baton serve`
 * processes from dist/ sharing the Sentinel group, one user database and one development key.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFaultProxy, type FaultProxy } from '../packages/server/test/helpers/fault-proxy.js'
import { freePort, startRedisServer, waitFor, type RedisServer } from '../packages/server/test/helpers/redis-server.js'
import { batonEnv, startBatonPair, stopStack, type BatonInstance } from './baton-instance.js'

export const MASTER = 'mymaster'
/** The ACL user baton connects as (the `acl-off` fault disables it); replication and the Sentinels use `default`. */
export const BATON_REDIS_USER = 'baton'
/** Sentinel's down-after: long enough that a 1 s pause does not always fail over, short enough to. */
const DOWN_AFTER_MS = 1500

export interface DataNode {
  readonly name: 'redis-a' | 'redis-b'
  readonly server: RedisServer
  readonly proxy: FaultProxy
  /** SIGKILL and start again on the same port, announcing the proxy: empty, unless `aof` (its AOF is loaded). */
  restart(options?: { aof?: boolean }): Promise<void>
  /** Re-applies the run-time settings a restart forgets. */
  configure(): Promise<void>
}

export interface Sentinel {
  readonly port: number
  command(...args: (string | number)[]): Promise<unknown>
  stop(): Promise<void>
}

export interface Topology {
  nodes: [DataNode, DataNode]
  sentinels: Sentinel[]
  batons: [BatonInstance, BatonInstance]
  /** The data node the Sentinels name as primary now (asks each Sentinel until one answers). */
  primary(): Promise<DataNode>
  replicaOf(node: DataNode): DataNode
  stop(): Promise<void>
}

export interface TopologyOptions {
  accessSeconds: number
  storeTimeoutMs: number
  log: (line: string) => void
}

async function startDataNode(name: DataNode['name'], batonPassword: string): Promise<DataNode> {
  // `local`: DEBUG SLEEP is one of the faults; only loopback may send it.
  // `rdb-del-sync-files yes`: without it a node restarted "without persistence" is not empty: it
  // loads the dump.rdb its last full sync as a replica left behind (Redis keeps it by default),
  // and the 30-minute run of 2026-12-07 saw that stale copy bring a revoked session back and fork
  // a token's successors. README "Redis in production" asks operators for the same setting.
  const server = await startRedisServer({
    config: ['enable-debug-command local', 'rdb-del-sync-files yes'],
    users: [{ name: BATON_REDIS_USER, password: batonPassword }],
  })
  const proxy = await startFaultProxy({ port: server.port })
  const node: DataNode = {
    name,
    server,
    proxy,
    async configure() {
      await server.command('CONFIG', 'SET', 'replica-announce-port', proxy.port)
    },
    async restart(options) {
      await server.restart(options)
      await node.configure()
    },
  }
  await node.configure()
  return node
}

async function startSentinel(primaryProxyPort: number, log: (line: string) => void): Promise<Sentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-chaos-sentinel-'))
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const file = join(dir, 'sentinel.conf')
    writeFileSync(
      file,
      [
        'bind 127.0.0.1',
        `port ${port}`,
        `dir ${dir}`,
        'logfile ""',
        'protected-mode no',
        `sentinel monitor ${MASTER} 127.0.0.1 ${primaryProxyPort} 2`,
        `sentinel down-after-milliseconds ${MASTER} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER} 6000`,
        `sentinel parallel-syncs ${MASTER} 1`,
      ].join('\n') + '\n',
    )
    const child = spawn('redis-server', [file, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)))
    child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)))
    try {
      await waitFor(() => output.includes('+monitor master') || child.exitCode !== null, 10_000, 'sentinel')
      if (child.exitCode !== null) throw new Error(output)
    } catch (err) {
      child.kill('SIGKILL')
      if (attempt < 4 && String(err).includes('Address already in use')) continue
      throw err
    }
    child.stdout.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n')) {
        if (/\+switch-master|\+odown|\+failover-end|\+convert-to-slave|-odown/.test(line)) log(`sentinel:${port} ${line.trim()}`)
      }
    })
    return {
      port,
      async command(...args) {
        const { Redis } = await import('ioredis')
        const client = new Redis({
          host: '127.0.0.1',
          port,
          maxRetriesPerRequest: 1,
          lazyConnect: true,
          connectTimeout: 3000,
          commandTimeout: 3000,
        })
        client.on('error', () => undefined)
        try {
          return await client.call(String(args[0]), ...args.slice(1))
        } finally {
          client.disconnect()
        }
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r))
          child.kill('SIGKILL')
          await exited
        }
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
}

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  // Also checks the build is there (the batons run from dist/).
  const { stops, stopAll } = stopStack()
  try {
    // Never printed: baton's Redis password for this run only.
    const batonPassword = randomBytes(12).toString('base64url')
    const a = await startDataNode('redis-a', batonPassword)
    stops.push(
      () => a.server.stop(),
      () => a.proxy.close(),
    )
    const b = await startDataNode('redis-b', batonPassword)
    stops.push(
      () => b.server.stop(),
      () => b.proxy.close(),
    )
    await b.server.command('REPLICAOF', '127.0.0.1', a.proxy.port)
    await waitFor(
      async () => String(await b.server.command('INFO', 'replication')).includes('master_link_status:up'),
      10_000,
      'replica in sync',
    )

    const sentinels: Sentinel[] = []
    for (let i = 0; i < 3; i++) {
      const s = await startSentinel(a.proxy.port, options.log)
      sentinels.push(s)
      stops.push(() => s.stop())
    }
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const master = (await s.command('SENTINEL', 'MASTER', MASTER)) as string[]
          const info = Object.fromEntries(master.flatMap((v, i) => (i % 2 === 0 ? [[v, master[i + 1]]] : [])))
          if (info['num-slaves'] !== '1' || info['num-other-sentinels'] !== '2') return false
        }
        return true
      },
      20_000,
      'every sentinel to know the replica and the other two sentinels',
    )

    const env = {
      ...batonEnv(options),
      BATON_STORE: 'redis',
      REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_MASTER: MASTER,
      // With Sentinels only the URL's credentials are used (the host is never connected to).
      REDIS_URL: `redis://${BATON_REDIS_USER}:${batonPassword}@127.0.0.1:1`,
    }
    const batons = await startBatonPair(env, stops)

    const nodes: [DataNode, DataNode] = [a, b]
    return {
      nodes,
      sentinels,
      batons,
      async primary() {
        // For up to 10 s: a failover in progress, or sentinels slow to answer on a loaded machine.
        const until = Date.now() + 10_000
        do {
          for (const s of sentinels) {
            try {
              const addr = (await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)) as [string, string]
              const node = nodes.find((n) => n.proxy.port === Number(addr[1]))
              if (node !== undefined) return node
            } catch {
              // try the next sentinel
            }
          }
          await new Promise((r) => setTimeout(r, 250))
        } while (Date.now() < until)
        throw new Error('no sentinel named a primary')
      },
      replicaOf: (node) => (node === a ? b : a),
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
