import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { sleep } from './load.js'
import { type CpuProbe, freePort, processCpuSeconds } from './proc.js'

/** A redis-server the bench started on a free loopback port (never 6379), without persistence. */
export interface BenchRedis {
  url: string
  port: number
  pid: number
  admin: Redis
  cpu: CpuProbe
  stop(): Promise<void>
}

export async function startRedis(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-redis-'))
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const child: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()))
    const killOnExit = (): void => void child.kill('SIGKILL')
    process.once('exit', killOnExit)
    const deadline = Date.now() + 10_000
    while (!/Ready to accept connections/.test(out) && child.exitCode === null && Date.now() < deadline) await sleep(50)
    if (child.exitCode !== null || !/Ready to accept connections/.test(out)) {
      child.kill('SIGKILL')
      if (attempt < 4 && out.includes('Address already in use')) continue
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`redis-server did not start:\n${out}`)
    }
    child.stdout!.removeAllListeners('data').resume()
    child.stderr!.removeAllListeners('data').resume()
    const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 })
    admin.on('error', () => undefined)
    const pid = child.pid!
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid,
      admin,
      cpu: () => processCpuSeconds(pid),
      async stop() {
        admin.disconnect()
        const exited = new Promise<void>((r) => child.once('exit', () => r()))
        child.kill('SIGKILL')
        await exited
        process.off('exit', killOnExit)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
}

/** `INFO commandstats` as command → calls (commands run inside scripts are counted too). */
export async function commandStats(admin: Redis): Promise<Record<string, number>> {
  const text = await admin.info('commandstats')
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2])
  return out
}

/** What changed between two `commandStats` answers, leaving out the bench's own INFO calls. */
export function statsDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(after)) {
    if (k === 'info' || k === 'monitor' || k === 'ping') continue
    const d = v - (before[k] ?? 0)
    if (d > 0) out[k] = d
  }
  return out
}

/**
 * Starts a MONITOR connection: it tells the commands the server sent (round trips) from those its
 * Lua scripts ran, which `INFO commandstats` cannot (both are counted there). Resolves once
 * Redis has acknowledged MONITOR; `stop()` answers the counts by command name.
 */
export async function startMonitor(
  port: number,
): Promise<{ stop(): Promise<{ client: Record<string, number>; lua: Record<string, number> }> }> {
  const socket = connect({ port, host: '127.0.0.1' })
  await new Promise<void>((r) => socket.once('connect', () => r()))
  const client: Record<string, number> = {}
  const lua: Record<string, number> = {}
  let buf = ''
  let acknowledged: () => void = () => undefined
  const ok = new Promise<void>((r) => (acknowledged = r))
  socket.on('data', (chunk: Buffer) => {
    buf += chunk.toString('latin1')
    let nl: number
    while ((nl = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 2)
      if (line === '+OK') {
        acknowledged()
        continue
      }
      // +1700000000.123456 [0 127.0.0.1:50000] "evalsha" "..." ...
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line)
      if (m === null) continue
      const name = m[2]!.toLowerCase()
      const target = m[1] === 'lua' ? lua : client
      target[name] = (target[name] ?? 0) + 1
    }
  })
  socket.write('MONITOR\r\n')
  await ok
  return {
    async stop() {
      // Every answer is in, but MONITOR lines may still be on their way: give them a moment.
      await new Promise((r) => setTimeout(r, 50))
      socket.destroy()
      return { client, lua }
    },
  }
}

/**
 * Memory per session: `MEMORY USAGE` of up to `sample` session hashes, plus the user index
 * (a sorted set per user) divided by the sessions it lists.
 */
export async function sessionBytes(
  admin: Redis,
  sample = 200,
): Promise<{ sessions: number; hashBytes: number; indexBytesPerSession: number; bytesPerSession: number }> {
  const sessionKeys: string[] = []
  const indexKeys: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', 'baton:*', 'COUNT', 1000)
    cursor = next
    for (const k of keys) {
      // baton:{<sid>}:session:v2 and baton:user:{<userId>} (store/redis.ts)
      if (k.endsWith(':session:v2')) sessionKeys.push(k)
      else if (k.startsWith('baton:user:{')) indexKeys.push(k)
    }
  } while (cursor !== '0')
  const mean = async (keys: string[]): Promise<number> => {
    const picked = keys.slice(0, sample)
    if (picked.length === 0) return 0
    const sizes = await Promise.all(picked.map((k) => admin.call('MEMORY', 'USAGE', k, 'SAMPLES', '0') as Promise<number | null>))
    return sizes.reduce<number>((s, v) => s + (v ?? 0), 0) / picked.length
  }
  const hashBytes = await mean(sessionKeys)
  let indexTotal = 0
  let indexed = 0
  for (const k of indexKeys.slice(0, sample)) {
    indexTotal += ((await admin.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) as number | null) ?? 0
    indexed += await admin.zcard(k)
  }
  const indexBytesPerSession = indexed === 0 ? 0 : indexTotal / indexed
  return {
    sessions: sessionKeys.length,
    hashBytes: Math.round(hashBytes),
    indexBytesPerSession: Math.round(indexBytesPerSession),
    bytesPerSession: Math.round(hashBytes + indexBytesPerSession),
  }
}
