import { Connection, type RawResponse } from './http-client.js'
import { type CpuProbe, cpuSnapshot } from './proc.js'

/**
 * One virtual user on one keep-alive connection: it says what to send next and reads the answer.
 * A lane that returns `null` from `request()` has stopped (its chain broke).
 */
export interface Lane {
  request(): Buffer | string | null
  response(res: RawResponse): void
}

export interface LoadOptions {
  port: number
  lanes: Lane[]
  warmupMs: number
  durationMs: number
  /** Processes whose CPU time is measured over the timed window (server tree, redis). */
  probes?: Record<string, CpuProbe | undefined>
  /** Called once when the timed window starts and once when it ends (for store statistics). */
  onWindow?: ((edge: 'start' | 'end') => Promise<void> | void) | undefined
  /** Opens a lane's connection (default: one keep-alive Connection for the whole run; bench/peers: one per request for gunicorn's sync workers). */
  open?: ((port: number) => Promise<Pick<Connection, 'send' | 'close'>>) | undefined
}

export interface LoadResult {
  /** Responses received inside the timed window. */
  requests: number
  /** Responses per second inside the window. */
  rps: number
  statuses: Record<string, number>
  non2xx: number
  /** Transport errors (connection reset, closed). */
  errors: number
  /** Lanes that stopped because their chain broke. */
  stoppedLanes: number
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number }
  /** CPU cores used on average during the window, per probe plus `loadgen` (this process). */
  cpu: Record<string, number>
  windowSeconds: number
}

/** A growable array of latencies (ms), sorted once at the end. */
class Latencies {
  #data = new Float64Array(1 << 16)
  #n = 0
  add(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2)
      next.set(this.#data)
      this.#data = next
    }
    this.#data[this.#n++] = v
  }
  summary(): LoadResult['latencyMs'] {
    const d = this.#data.subarray(0, this.#n).sort()
    const at = (q: number) => (d.length === 0 ? 0 : d[Math.min(d.length - 1, Math.floor(q * d.length))]!)
    let sum = 0
    for (const v of d) sum += v
    const r = (x: number) => Math.round(x * 100) / 100
    return {
      p50: r(at(0.5)),
      p90: r(at(0.9)),
      p99: r(at(0.99)),
      max: r(d.length === 0 ? 0 : d[d.length - 1]!),
      mean: r(d.length === 0 ? 0 : sum / d.length),
    }
  }
}

/**
 * Runs every lane as fast as it can (closed loop: one request in flight per connection) for the
 * warm-up, then for the timed window; counts statuses and latencies of responses that complete
 * inside the window only.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const conns = await Promise.all(options.lanes.map(() => (options.open ?? Connection.open)(options.port)))
  const latencies = new Latencies()
  const statuses: Record<string, number> = {}
  let requests = 0
  let errors = 0
  let stoppedLanes = 0
  let recording = false
  let stop = false

  const loop = async (lane: Lane, conn: Pick<Connection, 'send'>): Promise<void> => {
    while (!stop) {
      const req = lane.request()
      if (req === null) {
        stoppedLanes++
        return
      }
      const t0 = performance.now()
      let res: RawResponse
      try {
        res = await conn.send(req)
      } catch {
        if (recording) errors++
        return
      }
      if (recording && !stop) {
        latencies.add(performance.now() - t0)
        requests++
        const k = String(res.status)
        statuses[k] = (statuses[k] ?? 0) + 1
      }
      lane.response(res)
    }
  }

  const running = options.lanes.map((lane, i) => loop(lane, conns[i]!))
  await sleep(options.warmupMs)
  await options.onWindow?.('start')
  const probes = options.probes ?? {}
  const before = cpuSnapshot(probes)
  const client0 = process.cpuUsage()
  const t0 = performance.now()
  recording = true
  await sleep(options.durationMs)
  stop = true
  const seconds = (performance.now() - t0) / 1000
  const client = process.cpuUsage(client0)
  const after = cpuSnapshot(probes)
  await options.onWindow?.('end')
  await Promise.race([Promise.all(running), sleep(5_000)])
  for (const c of conns) c.close()

  const cpu: Record<string, number> = { loadgen: round2((client.user + client.system) / 1e6 / seconds) }
  for (const name of Object.keys(after)) cpu[name] = round2((after[name]! - before[name]!) / seconds)
  const non2xx = Object.entries(statuses).reduce((n, [k, v]) => (k.startsWith('2') ? n : n + v), 0)
  return {
    requests,
    rps: Math.round(requests / seconds),
    statuses,
    non2xx,
    errors,
    stoppedLanes,
    latencyMs: latencies.summary(),
    cpu,
    windowSeconds: round2(seconds),
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
