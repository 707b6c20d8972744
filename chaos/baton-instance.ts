/**
 * One `baton serve` process of the chaos run, from packages/server/dist (build first): started
 * on a fixed port with the run's environment, stopped with a signal and started again, its log
 * lines kept for excerpts and counted, its `revoke_unreplicated` warnings collected.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitFor } from '../packages/server/test/helpers/redis-server.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const CLI = join(ROOT, 'packages/server/dist/cli/main.js')

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

export function startBatonInstance(name: BatonInstance['name'], port: number, env: Record<string, string>, dataDir: string): BatonInstance {
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

/** What a store's start-up pushes its stops onto; `stopAll` runs them newest first, ignoring failures. */
export function stopStack(): { stops: (() => Promise<void>)[]; stopAll: () => Promise<void> } {
  if (!existsSync(CLI)) throw new Error('chaos: build first (npm run build): packages/server/dist/cli/main.js is missing')
  const stops: (() => Promise<void>)[] = []
  return {
    stops,
    async stopAll() {
      for (const stop of stops.reverse()) await stop().catch(() => undefined)
    },
  }
}

/**
 * The run's two instances on free ports, sharing one data dir (one user database, one
 * development key), started one after the other: the first creates the key, the second reads
 * it. Their stop and the dir's removal go on `stops`.
 */
export async function startBatonPair(env: Record<string, string>, stops: (() => Promise<void>)[]): Promise<[BatonInstance, BatonInstance]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-chaos-'))
  stops.push(async () => rmSync(dataDir, { recursive: true, force: true }))
  const ports = [await freePort(), await freePort()]
  const batons: [BatonInstance, BatonInstance] = [
    startBatonInstance('baton-1', ports[0] as number, env, dataDir),
    startBatonInstance('baton-2', ports[1] as number, env, dataDir),
  ]
  stops.push(async () => {
    await Promise.all(batons.map((x) => x.stop('SIGKILL')))
  })
  await batons[0].start()
  await batons[1].start()
  return batons
}

/** What every chaos baton instance runs with, whatever the store. */
export function batonEnv(options: { accessSeconds: number; storeTimeoutMs: number }): Record<string, string> {
  return {
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
}

/** Open file descriptors (sockets included) of a process, or null once it is gone. */
export function openFds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
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
