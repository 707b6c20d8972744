import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis, type RedisOptions } from 'ioredis'

const run = promisify(execFile)

/**
 * Real `redis-server` processes for tests: each on a free loopback port, in its own temp dir,
 * killed when the test process ends (even if a test forgot `stop()`).
 *
 * @example
 * ```ts
 * const redis = await startRedisServer({ password: 's3cret' })
 * after(() => redis.stop())
 * const store = createRedisStore({ url: redis.url })
 * await redis.pause()   // SIGSTOP: connections stay open, nothing answers
 * await redis.resume()
 * ```
 */
export interface RedisServerOptions {
  /** Append-only file on (`appendfsync always`). @default false: no persistence at all */
  aof?: boolean
  /** `requirepass` for the `default` user. @default none */
  password?: string
  /** More ACL users; `rules` default to everything (`~* &* +@all`). @default none */
  users?: { name: string; password: string; rules?: string }[]
  /** Serve TLS only (no plain port), with a CA and certificate made by `openssl` in the temp dir. @default false */
  tls?: boolean
  /** `cluster-enabled yes` (the bus port is `port + 10000`). @default false */
  cluster?: boolean
  /** Start as a replica of this primary. @default none */
  replicaOf?: { host: string; port: number }
  /** More `redis.conf` lines. @default none */
  config?: string[]
}

export interface TestTLS {
  /** PEM of the test CA: pass it as `tlsCA`. */
  ca: string
  caFile: string
  certFile: string
  keyFile: string
}

export interface RedisServer {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly dir: string
  /** `redis://` (or `rediss://` with `tls`), with the default user's password if one was set. */
  readonly url: string
  readonly tls: TestTLS | null
  readonly pid: number | undefined
  /** A fresh ioredis client (as the default user) for test set-up and checks; the caller quits it. */
  client(options?: RedisOptions): Redis
  /** Runs one command on a short-lived admin connection. */
  command(...args: (string | number)[]): Promise<unknown>
  /** SIGKILL, as a crash: the dir stays, `restart()` brings it back. */
  kill(): Promise<void>
  /** SIGSTOP: the port still accepts connections, nothing answers. */
  pause(): void
  /** SIGCONT. */
  resume(): void
  /**
   * Starts again on the same port and dir (after `kill()`, or kills first). `aof` overrides the
   * option for this start only (a node whose AOF was turned on with CONFIG SET loads it).
   */
  restart(options?: { aof?: boolean }): Promise<void>
  /** Kills the process and removes the dir. Idempotent. */
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()
const dirs = new Set<string>()
// A test process that ends without stop() (a crash, a forgotten after()) leaves nothing behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 })
    } catch {
      // a killed server may still be writing there; tmpdir is cleaned by the OS eventually
    }
  }
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

/**
 * A port that is free now (and, for a cluster node, whose bus port `port + 10000` is too).
 *
 * Chosen below the kernel's ephemeral range, never with `listen(0)`: a test kills a server and
 * restarts it on the same port while clients keep reconnecting to it, and a connect to a closed
 * loopback port inside the ephemeral range can be given that very port as its own source port
 * (a TCP self-connect): the client then talks to itself and the restarted server finds its port
 * taken. Outside that range no outgoing socket and no `listen(0)` of another test can hold it.
 */
export async function freePort(options: { withBusPort?: boolean } = {}): Promise<number> {
  const [low, high] = portWindow(options.withBusPort === true)
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if ((await listenOnce(port).catch(() => 0)) === 0) continue
    if (!options.withBusPort) return port
    if ((await listenOnce(port + 10_000).catch(() => 0)) !== 0) return port
  }
  throw new Error('no free port found below the ephemeral range')
}

/** [low, high) for test ports: under the ephemeral range (leaving room for a cluster bus port). */
function portWindow(withBus: boolean): [number, number] {
  let ephemeralLow = 32_768
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {
    // not Linux: the IANA dynamic range starts at 49152, and 32768 is below it too
  }
  const top = Math.min(ephemeralLow, 32_768)
  const high = withBus ? top - 10_000 : top
  const low = withBus ? 10_000 : 12_000
  if (!(high - low >= 2_000)) throw new Error(`the ephemeral port range starts at ${ephemeralLow}: no room for test ports below it`)
  return [low, high]
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const found = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(found))
    })
  })
}

/** A CA and a server certificate for 127.0.0.1/localhost, made now (never committed). */
export async function makeTestTLS(dir: string): Promise<TestTLS> {
  const caKey = join(dir, 'ca.key')
  const caFile = join(dir, 'ca.crt')
  const keyFile = join(dir, 'server.key')
  const csr = join(dir, 'server.csr')
  const certFile = join(dir, 'server.crt')
  const ext = join(dir, 'server.ext')
  const ec = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
  await run('openssl', ['genpkey', ...ec, '-out', caKey])
  await run('openssl', ['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=baton test CA', '-days', '2', '-out', caFile])
  await run('openssl', ['genpkey', ...ec, '-out', keyFile])
  await run('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=localhost', '-out', csr])
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    certFile,
  ])
  return { ca: readFileSync(caFile, 'utf8'), caFile, certFile, keyFile }
}

/** Starts a `redis-server` and resolves once it accepts connections. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = tempDir('baton-redis-')
  const tls = options.tls ? await makeTestTLS(dir) : null
  let port = 0
  let child: ChildProcess | undefined
  let stopped = false

  let aof = options.aof === true
  const conf = (): string => {
    const lines = [
      `bind 127.0.0.1`,
      tls ? `port 0` : `port ${port}`,
      `dir ${dir}`,
      `daemonize no`,
      `logfile ""`,
      `save ""`,
      `appendonly ${aof ? 'yes' : 'no'}`,
      `appendfsync always`,
      `protected-mode no`,
      // Replicas sync at once (the default waits 5 s for more replicas to share one transfer).
      `repl-diskless-sync-delay 0`,
    ]
    if (tls) {
      lines.push(
        `tls-port ${port}`,
        `tls-cert-file ${tls.certFile}`,
        `tls-key-file ${tls.keyFile}`,
        `tls-ca-cert-file ${tls.caFile}`,
        `tls-auth-clients no`,
      )
      if (options.cluster) lines.push('tls-cluster yes', 'tls-replication yes')
    }
    if (options.password !== undefined) lines.push(`requirepass ${options.password}`)
    for (const u of options.users ?? []) lines.push(`user ${u.name} on >${u.password} ${u.rules ?? '~* &* +@all'}`)
    if (options.cluster) {
      lines.push('cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000')
    }
    if (options.replicaOf) {
      lines.push(`replicaof ${options.replicaOf.host} ${options.replicaOf.port}`)
      if (options.password !== undefined) lines.push(`masterauth ${options.password}`)
    }
    lines.push(...(options.config ?? []))
    return lines.join('\n') + '\n'
  }

  const launch = async (): Promise<void> => {
    const file = join(dir, 'redis.conf')
    writeFileSync(file, conf())
    child = await spawnUntil('redis-server', [file], /Ready to accept connections/)
  }

  // A port found free can be taken by another test process before redis binds it: retry.
  for (let attempt = 0; ; attempt++) {
    port = await freePort({ withBusPort: options.cluster === true })
    try {
      await launch()
      break
    } catch (err) {
      if (attempt >= 4 || !String(err).includes('Address already in use')) {
        rmSync(dir, { recursive: true, force: true })
        throw err
      }
    }
  }

  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`
  const url = `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`
  const clientOptions = (): RedisOptions => ({
    host: '127.0.0.1',
    port,
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(tls ? { tls: { ca: tls.ca } } : {}),
    maxRetriesPerRequest: 1,
    retryStrategy: (n: number) => Math.min(n * 50, 500),
  })

  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    dir,
    url,
    tls,
    get pid() {
      return child?.pid
    },
    client(extra = {}) {
      const client = new Redis({ ...clientOptions(), ...extra })
      client.on('error', () => undefined)
      return client
    },
    async command(...args) {
      const client = server.client()
      try {
        return await client.call(String(args[0]), ...args.slice(1))
      } finally {
        client.disconnect()
      }
    },
    async kill() {
      await killChild(child, 'SIGKILL')
      child = undefined
    },
    pause() {
      child?.kill('SIGSTOP')
    },
    resume() {
      child?.kill('SIGCONT')
    },
    async restart(once = {}) {
      await killChild(child, 'SIGKILL')
      child = undefined
      aof = once.aof ?? options.aof === true
      try {
        await launch()
      } finally {
        aof = options.aof === true
      }
    },
    async stop() {
      if (stopped) return
      stopped = true
      await killChild(child, 'SIGKILL')
      child = undefined
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/** Spawns a process, resolves once its output matches `ready`, rejects with the output on exit. */
async function spawnUntil(command: string, args: string[], ready: RegExp, timeoutMs = 10_000): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} not ready within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (ready.test(output)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited (${code}) before it was ready:\n${output}`))
    })
  })
  // Keep draining output so a chatty server never blocks on a full pipe.
  child.stdout?.removeAllListeners('data').resume()
  child.stderr?.removeAllListeners('data').resume()
  return child
}

async function killChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGCONT') // a paused process must run to die promptly on SIGTERM; harmless otherwise
  child.kill(signal)
  await exited
}

/** Polls `check` until it returns true (no fixed sleeps in the tests that use it). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface RedisCluster {
  nodes: RedisServer[]
  /** `host:port` of every node. */
  seeds: string[]
  stop(): Promise<void>
}

export interface RedisClusterOptions {
  /** Primaries. @default 3 */
  size?: number
  /** Replicas of each primary. @default 0 */
  replicas?: number
  /** `requirepass` of every node (the `default` user). @default none */
  password?: string
  /** More ACL users on every node (see {@link RedisServerOptions.users}). @default none */
  users?: RedisServerOptions['users']
  /** More `redis.conf` lines for every node (they come last, so they override). @default none */
  config?: string[]
}

/**
 * Three (or `size`) primaries, each with `replicas` replicas (default none), joined by
 * `redis-cli --cluster create`, slots all served and every replica in sync.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const replicas = options.replicas ?? 0
  const size = (options.size ?? 3) * (1 + replicas)
  const nodes: RedisServer[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()))
  }
  try {
    for (let i = 0; i < size; i++) {
      nodes.push(
        await startRedisServer({
          cluster: true,
          ...(options.password === undefined ? {} : { password: options.password }),
          ...(options.users === undefined ? {} : { users: options.users }),
          ...(options.config === undefined ? {} : { config: options.config }),
        }),
      )
    }
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`)
    const auth = options.password === undefined ? [] : ['-a', options.password, '--no-auth-warning']
    await run('redis-cli', [...auth, '--cluster', 'create', ...seeds, '--cluster-replicas', String(replicas), '--cluster-yes'])
    await waitFor(
      async () => {
        const states = await Promise.all(nodes.map((n) => n.command('CLUSTER', 'INFO')))
        return states.every((s) => String(s).includes('cluster_state:ok'))
      },
      15_000,
      'cluster_state:ok on every node',
    )
    if (replicas > 0) {
      await waitFor(
        async () => {
          const infos = await Promise.all(nodes.map((n) => n.command('INFO', 'replication')))
          const linked = infos.filter((i) => String(i).includes('master_link_status:up')).length
          return linked === nodes.length - (options.size ?? 3)
        },
        15_000,
        'every cluster replica in sync',
      )
    }
    return { nodes, seeds, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

export interface RedisSentinelSetup {
  primary: RedisServer
  replica: RedisServer
  /** The sentinel's port (a `redis-server --sentinel` process). */
  sentinel: { host: '127.0.0.1'; port: number; client(): Redis; stop(): Promise<void> }
  /** The monitored primary's name. @default 'mymaster' */
  name: string
  stop(): Promise<void>
}

/**
 * A primary, one replica in sync with it, and one sentinel (quorum 1, 1 s down-after) that
 * already knows the replica, so `SENTINEL FAILOVER` works as soon as this resolves.
 */
export async function startRedisSentinel(options: { name?: string } = {}): Promise<RedisSentinelSetup> {
  const name = options.name ?? 'mymaster'
  const parts: { stop(): Promise<void> }[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(parts.map((p) => p.stop()))
  }
  try {
    const primary = await startRedisServer()
    parts.push(primary)
    const replica = await startRedisServer({ replicaOf: { host: '127.0.0.1', port: primary.port } })
    parts.push(replica)
    await waitFor(
      async () => String(await replica.command('INFO', 'replication')).includes('master_link_status:up'),
      10_000,
      'replica in sync',
    )

    const dir = tempDir('baton-sentinel-')
    let child: ChildProcess | undefined
    let port = 0
    for (let attempt = 0; ; attempt++) {
      port = await freePort()
      const file = join(dir, 'sentinel.conf')
      writeFileSync(
        file,
        [
          `bind 127.0.0.1`,
          `port ${port}`,
          `dir ${dir}`,
          `logfile ""`,
          `protected-mode no`,
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
        ].join('\n') + '\n',
      )
      try {
        child = await spawnUntil('redis-server', [file, '--sentinel'], /\+monitor master/)
        break
      } catch (err) {
        if (attempt >= 4 || !String(err).includes('Address already in use')) throw err
      }
    }
    const sentinelChild = child
    const sentinel = {
      host: '127.0.0.1' as const,
      port,
      client() {
        const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
        c.on('error', () => undefined)
        return c
      },
      async stop() {
        await killChild(sentinelChild, 'SIGKILL')
        rmSync(dir, { recursive: true, force: true })
      },
    }
    parts.push(sentinel)
    const admin = sentinel.client()
    try {
      await waitFor(
        async () => {
          const replicas = (await admin.call('SENTINEL', 'REPLICAS', name)) as string[][]
          return replicas.some((r) => {
            const info = Object.fromEntries(r.flatMap((v, i) => (i % 2 === 0 ? [[v, r[i + 1]]] : []))) as Record<string, string>
            return info.flags === 'slave' && info['master-link-status'] === 'ok'
          })
        },
        15_000,
        'sentinel to see the replica',
      )
    } finally {
      admin.disconnect()
    }
    return { primary, replica, sentinel, name, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
