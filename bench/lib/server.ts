import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { Connection, type RawResponse, buildRequest } from './http-client.js'
import { sleep } from './load.js'
import { type CpuProbe, freePort, processTree, treeProbe } from './proc.js'

export const ROOT = resolve(import.meta.dirname, '..', '..')

/**
 * The one owner of the bench's server child processes (baton, the static-JSON ceiling, the
 * peers): spawned on a free port, each with a CPU probe over its whole process tree, and every
 * one killed when this process exits, whatever the way out.
 */
export interface ServerProcess {
  name: string
  port: number
  pid: number
  /** CPU seconds of the process and its workers. */
  cpu: CpuProbe
  /** Per-worker pids (the primary itself when it has no workers). */
  workers(): number[]
  /** Last lines the process printed (for error reports). */
  output(): string
  stop(): Promise<void>
}

export interface StartOptions {
  name: string
  command: string
  args: (port: number) => string[]
  cwd: string
  env: Record<string, string>
  /** Processes in the tree once every worker is up (primary included). */
  processes: number
  /** A request whose answer means the server is up… */
  probe: { method: 'GET' | 'POST'; path: string }
  /** …when this says so of its status (default: any answer). */
  ready?: (status: number) => boolean
  /** How long start-up may take (default 60 s). */
  timeoutMs?: number
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill('SIGKILL')
    process.exit(130)
  })
}

/**
 * Spawns, waits until the probe answers and every worker has started, then until the tree's CPU
 * settles: connections are spread over the workers when they are opened, so opening them while
 * a worker still loads its modules would load the others only.
 */
export async function startProcess(options: StartOptions): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(options.command, options.args(port), {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LANG: 'C.UTF-8',
      ...options.env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  let out = ''
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.once('exit', () => live.delete(child))
  const pid = child.pid!
  const cpu = treeProbe(pid)
  const workers = (): number[] => (options.processes > 1 ? processTree(pid).slice(1) : [pid])
  const ready = options.ready ?? (() => true)

  const timeoutMs = options.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited (${child.exitCode}) before it was ready:\n${out}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${options.name} not ready within ${timeoutMs / 1000} s:\n${out}`)
    }
    if (processTree(pid).length >= options.processes && (await answers(port, options.probe, ready))) break
    await sleep(100)
  }
  // Every worker has started once the tree's CPU time stops growing (module loading is over).
  let last = cpu()
  for (let i = 0; i < 50; i++) {
    await sleep(200)
    const now = cpu()
    if (now - last < 0.02) break
    last = now
  }
  return {
    name: options.name,
    port,
    pid,
    cpu,
    workers,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** A Node server of this repository (baton or the static-JSON ceiling): ready when `/healthz` says 200. */
export function startServer(args: string[], env: Record<string, string>, workers: number): Promise<ServerProcess> {
  return startProcess({
    name: 'server',
    command: process.execPath,
    args: () => args,
    cwd: ROOT,
    env,
    processes: workers > 1 ? workers + 1 : 1,
    probe: { method: 'GET', path: '/healthz' },
    ready: (status) => status === 200,
    timeoutMs: 30_000,
  })
}

async function answers(port: number, probe: StartOptions['probe'], ready: (status: number) => boolean): Promise<boolean> {
  const res = await sendOnce(port, buildRequest(probe.method, probe.path)).catch(() => null)
  return res !== null && res.status > 0 && ready(res.status)
}

/** One request on its own connection, closed after the answer. */
export async function sendOnce(port: number, request: Buffer | string): Promise<RawResponse> {
  const conn = await Connection.open(port)
  try {
    return await conn.send(request)
  } finally {
    conn.close()
  }
}
