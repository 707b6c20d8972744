import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { Connection, buildRequest } from './http-client.js'
import { sleep } from './load.js'
import { type CpuProbe, freePort, processTree, treeProbe } from './proc.js'

export const ROOT = resolve(import.meta.dirname, '..', '..')

/** A server child process the bench started (baton or the static-JSON ceiling). */
export interface ServerProcess {
  port: number
  pid: number
  /** CPU seconds of the process and its workers. */
  cpu: CpuProbe
  /** Per-worker pids (the primary itself when WORKERS=1). */
  workers(): number[]
  /** Last lines the process printed (for error reports). */
  output(): string
  stop(): Promise<void>
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
 * Spawns a server with `env` on a free port and waits until it answers `GET /healthz` and, with
 * several workers, until every worker has started (their CPU settles): connections are spread
 * over the workers when they are opened, so opening them early would load one worker only.
 */
export async function startServer(args: string[], env: Record<string, string>, workers: number): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env, PORT: String(port), HOST: '127.0.0.1' },
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
  const workerPids = (): number[] => (workers > 1 ? processTree(pid).slice(1) : [pid])

  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before it was ready:\n${out}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server not ready within 30 s:\n${out}`)
    }
    if (workerPids().length >= workers && (await healthy(port))) break
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
    port,
    pid,
    cpu,
    workers: workerPids,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

async function healthy(port: number): Promise<boolean> {
  let conn: Connection | null = null
  try {
    conn = await Connection.open(port)
    const res = await conn.send(buildRequest('GET', '/healthz'))
    return res.status === 200
  } catch {
    return false
  } finally {
    conn?.close()
  }
}
