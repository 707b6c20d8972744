/**
 * The servers of the peer bench as child processes on ports from the test helpers' freePort()
 * (below the ephemeral range), each with a CPU probe over its whole process tree. Every child
 * is killed when this process exits, whatever the way out.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { freePort } from '../../packages/server/test/helpers/redis-server.js'
import { Connection, type RawResponse, buildRequest } from '../lib/http-client.js'
import { sleep } from '../lib/load.js'
import { type CpuProbe, processTree, treeProbe } from '../lib/proc.js'

export interface PeerProcess {
  name: string
  port: number
  pid: number
  cpu: CpuProbe
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

export interface StartOptions {
  name: string
  command: string
  args: (port: number) => string[]
  cwd: string
  env: Record<string, string>
  /** Processes in the tree once every worker is up (primary included). */
  processes: number
  /** A request whose answer (any status) means the server is up. */
  probe: { method: 'GET' | 'POST'; path: string }
}

/** Spawns, waits until the probe answers and every worker has started, then until its CPU settles. */
export async function startProcess(options: StartOptions): Promise<PeerProcess> {
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
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited (${child.exitCode}) before it was ready:\n${out}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${options.name} not ready within 60 s:\n${out}`)
    }
    if (processTree(pid).length >= options.processes && (await answers(port, options.probe))) break
    await sleep(200)
  }
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

async function answers(port: number, probe: StartOptions['probe']): Promise<boolean> {
  const res = await sendOnce(port, buildRequest(probe.method, probe.path)).catch(() => null)
  return res !== null && res.status > 0
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

/**
 * For runLoad's `open`: a new connection for every request. gunicorn's sync workers close each
 * connection after one answer (they do not do keep-alive), so every client of them pays a TCP
 * connect per request; the time is in the latency, as a client would see it.
 */
export function connectionPerRequest(port: number): Promise<Pick<Connection, 'send' | 'close'>> {
  return Promise.resolve({ send: (request: Buffer | string) => sendOnce(port, request), close: () => undefined })
}
