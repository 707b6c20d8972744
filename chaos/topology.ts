/**
 * Everything the chaos run talks to, on free loopback ports: two Redis data nodes (each behind
 * its own TCP fault proxy, and announcing the proxy's port so the Sentinels, the replication
 * link and baton all go through it), three Sentinels (quorum 2), and two `baton serve`
 * processes from dist/ sharing the Sentinel group, one user database and one development key.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFaultProxy, type FaultProxy } from '../packages/server/test/helpers/fault-proxy.js'
import { freePort, startRedisServer, waitFor, type RedisServer } from '../packages/server/test/helpers/redis-server.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'packages/server/dist/cli/main.js')
export const MASTER = 'mymaster'
/** Sentinel's down-after: long enough that a 1 s pause does not always fail over, short enough to. */
const DOWN_AFTER_MS = 1500

export interface DataNode {
  readonly name: 'redis-a' | 'redis-b'
  readonly server: RedisServer
  readonly proxy: FaultProxy
  /** SIGKILL and start again on the same port, empty (no persistence), announcing the proxy. */
  restart(): Promise<void>
  /** Re-applies the run-time settings a restart forgets. */
  configure(): Promise<void>
}

export interface Sentinel {
  readonly port: number
  command(...args: (string | number)[]): Promise<unknown>
  stop(): Promise<void>
}

export interface BatonInstance {
  readonly name: 'baton-1' | 'baton-2'
  readonly port: number
  readonly url: string
  readonly pid: number | undefined
  /** Whether the process is up (started and not yet signalled). */
  readonly up: boolean
  /** Sends `signal` and waits for the exit. */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>
  /** Starts again on the same port; resolves once /healthz answers. */
  start(): Promise<void>
  /** The last lines the process printed (JSON logs), for failure excerpts. */
  tail(lines: number): string[]
  /** Log lines matching `pattern`, counted over the whole run (restarts included). */
  count(pattern: RegExp): number
  /** Sessions this instance logged `revoke_unreplicated` for (the run's oracle names those windows). */
  readonly unreplicated: ReadonlySet<string>
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

async function startDataNode(name: DataNode['name']): Promise<DataNode> {
  // `local`: DEBUG SLEEP is one of the faults; only loopback may send it.
  // `rdb-del-sync-files yes`: without it a node restarted "without persistence" is not empty: it
  // loads the dump.rdb its last full sync as a replica left behind (Redis keeps it by default),
  // and the 30-minute run of 2026-12-07 saw that stale copy bring a revoked session back and fork
  // a token's successors. README "Redis in production" asks operators for the same setting.
  const server = await startRedisServer({ config: ['enable-debug-command local', 'rdb-del-sync-files yes'] })
  const proxy = await startFaultProxy({ port: server.port })
  const node: DataNode = {
    name,
    server,
    proxy,
    async configure() {
      await server.command('CONFIG', 'SET', 'replica-announce-port', proxy.port)
    },
    async restart() {
      await server.restart()
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

function startBatonInstance(name: BatonInstance['name'], port: number, env: Record<string, string>, dataDir: string): BatonInstance {
  let child: ChildProcess | undefined
  let lines: string[] = []
  const counts = new Map<RegExp, number>()
  const patterns: RegExp[] = []
  const unreplicated = new Set<string>()
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue
      lines.push(line)
      for (const p of patterns) if (p.test(line)) counts.set(p, (counts.get(p) ?? 0) + 1)
      if (line.includes('"revoke_unreplicated"')) {
        const sid = /"sid":"([^"]+)"/.exec(line)?.[1]
        if (sid !== undefined) unreplicated.add(sid)
        // A logout-all's one warning names every session it revoked.
        for (const m of /"sids":\[([^\]]*)\]/.exec(line)?.[1]?.matchAll(/"([^"]+)"/g) ?? []) unreplicated.add(m[1] as string)
      }
    }
    if (lines.length > 4000) lines = lines.slice(-2000)
  }
  const instance: BatonInstance = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    get up() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    async stop(signal) {
      const c = child
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise<void>((r) => c.once('exit', () => r()))
      c.kill(signal)
      // A SIGTERM lets in-flight requests finish; past 10 s it is a crash anyway.
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
    async start() {
      for (let attempt = 0; attempt < 20; attempt++) {
        const c = spawn(process.execPath, [CLI, 'serve'], {
          cwd: dataDir,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: dataDir,
            HOST: '127.0.0.1',
            PORT: String(port),
            BATON_DATA_DIR: dataDir,
            ...env,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        child = c
        c.stdout?.on('data', keep)
        c.stderr?.on('data', keep)
        try {
          await waitFor(
            async () => {
              if (c.exitCode !== null) throw new Error('exited')
              return (await fetch(`${instance.url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok
            },
            15_000,
            `${name} /healthz`,
          )
          return
        } catch {
          await instance.stop('SIGKILL')
          // The port was free a moment ago; a restarting process may find it in TIME_WAIT use: retry.
          if (!lines.slice(-20).some((l) => l.includes('EADDRINUSE'))) {
            throw new Error(`${name} did not start:\n${lines.slice(-20).join('\n')}`)
          }
          await new Promise((r) => setTimeout(r, 250))
        }
      }
      throw new Error(`${name}: port ${port} stayed in use`)
    },
    unreplicated,
    tail: (n) => lines.slice(-n),
    count(pattern) {
      if (!patterns.includes(pattern)) {
        patterns.push(pattern)
        counts.set(pattern, lines.filter((l) => pattern.test(l)).length)
      }
      return counts.get(pattern) ?? 0
    },
  }
  return instance
}

export function rssBytes(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  if (!existsSync(CLI)) throw new Error('chaos: build first (npm run build): packages/server/dist/cli/main.js is missing')
  const stops: (() => Promise<void>)[] = []
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
  }
  try {
    const a = await startDataNode('redis-a')
    stops.push(
      () => a.server.stop(),
      () => a.proxy.close(),
    )
    const b = await startDataNode('redis-b')
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

    const dataDir = mkdtempSync(join(tmpdir(), 'baton-chaos-'))
    stops.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const env = {
      BATON_STORE: 'redis',
      REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_MASTER: MASTER,
      ACCESS_TOKEN_LIFETIME: String(options.accessSeconds),
      STORE_TIMEOUT_MS: String(options.storeTimeoutMs),
      // Every simulated user comes from 127.0.0.1: per-address limits would throttle them all
      // together (the login storm is another test's subject).
      LOGIN_RATE_LIMIT: 'off',
      LOGIN_RATE_LIMIT_IP: 'off',
      REFRESH_RATE_LIMIT: 'off',
      // Registration is the cheapest way to make users; a cheap hash keeps 2 CPUs for the run.
      BATON_REGISTRATION: 'true',
      PASSWORD_SCRYPT_LN: '10',
      LOG_LEVEL: 'info',
    }
    const ports = [await freePort(), await freePort()]
    const batons: [BatonInstance, BatonInstance] = [
      startBatonInstance('baton-1', ports[0] as number, env, dataDir),
      startBatonInstance('baton-2', ports[1] as number, env, dataDir),
    ]
    stops.push(async () => {
      await Promise.all(batons.map((x) => x.stop('SIGKILL')))
    })
    // One after the other: the first creates the development key, the second reads it.
    await batons[0].start()
    await batons[1].start()

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
