import { connect, createServer, type Socket } from 'node:net'

/**
 * What the proxy does to traffic, switchable at any time:
 * - `'pass'`: forwards both ways (and releases anything held by a black hole, in order);
 * - `{ latencyMs }`: forwards each chunk after a delay, order kept;
 * - `'blackhole'`: accepts connections and holds all data, so nothing is ever answered (a
 *   network partition without RST; switching back to `'pass'` delivers the held bytes, as TCP
 *   retransmission would);
 * - `'reset'`: resets every open connection now, and each new one as soon as it is accepted.
 */
export type FaultMode = 'pass' | 'blackhole' | 'reset' | { latencyMs: number }

/**
 * A TCP proxy on a free loopback port in front of a target, for outage tests.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ port: redis.port })
 * after(() => proxy.close())
 * const store = createRedisStore({ url: `redis://127.0.0.1:${proxy.port}` })
 * proxy.setMode('blackhole')
 * ```
 */
export interface FaultProxy {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly mode: FaultMode
  /** Connections accepted so far (including reset ones). */
  readonly accepted: number
  setMode(mode: FaultMode): void
  close(): Promise<void>
}

interface Pipe {
  client: Socket
  upstream: Socket
  /** Chunks not yet written, per direction, in order; `due` is when latency lets them go. */
  queues: { toUpstream: Held[]; toClient: Held[] }
  timer: NodeJS.Timeout | null
}

interface Held {
  chunk: Buffer
  due: number
}

export async function startFaultProxy(target: {
  host?: string
  port: number
  mode?: FaultMode
  /** Sees every chunk as it arrives (before any fault applies), e.g. to count commands sent. */
  tap?: (direction: 'toUpstream' | 'toClient', chunk: Buffer) => void
}): Promise<FaultProxy> {
  const targetHost = target.host ?? '127.0.0.1'
  let mode: FaultMode = target.mode ?? 'pass'
  let accepted = 0
  const pipes = new Set<Pipe>()

  const delay = (): number => (typeof mode === 'object' ? mode.latencyMs : 0)

  function pump(pipe: Pipe): void {
    if (pipe.timer !== null) clearTimeout(pipe.timer)
    pipe.timer = null
    if (mode === 'blackhole') return
    const now = Date.now()
    let next = Infinity
    for (const [queue, out] of [
      [pipe.queues.toUpstream, pipe.upstream],
      [pipe.queues.toClient, pipe.client],
    ] as const) {
      while (queue.length > 0) {
        const head = queue[0] as Held
        if (head.due > now) {
          next = Math.min(next, head.due)
          break
        }
        queue.shift()
        if (!out.destroyed) out.write(head.chunk)
      }
    }
    if (next !== Infinity) pipe.timer = setTimeout(() => pump(pipe), next - now)
  }

  function reset(pipe: Pipe): void {
    if (pipe.timer !== null) clearTimeout(pipe.timer)
    pipes.delete(pipe)
    if (!pipe.client.destroyed) pipe.client.resetAndDestroy()
    if (!pipe.upstream.destroyed) pipe.upstream.resetAndDestroy()
  }

  const server = createServer((client) => {
    accepted++
    client.on('error', () => undefined)
    if (mode === 'reset') {
      client.resetAndDestroy()
      return
    }
    const upstream = connect(target.port, targetHost)
    upstream.on('error', () => undefined)
    const pipe: Pipe = { client, upstream, queues: { toUpstream: [], toClient: [] }, timer: null }
    pipes.add(pipe)
    client.on('data', (chunk) => {
      target.tap?.('toUpstream', chunk)
      pipe.queues.toUpstream.push({ chunk, due: Date.now() + delay() })
      pump(pipe)
    })
    upstream.on('data', (chunk) => {
      target.tap?.('toClient', chunk)
      pipe.queues.toClient.push({ chunk, due: Date.now() + delay() })
      pump(pipe)
    })
    // One side closing closes the other, so a killed target looks closed to the client.
    const end = (): void => {
      if (pipe.timer !== null) clearTimeout(pipe.timer)
      pipes.delete(pipe)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    host: '127.0.0.1',
    port,
    get mode() {
      return mode
    },
    get accepted() {
      return accepted
    },
    setMode(next) {
      mode = next
      for (const pipe of [...pipes]) {
        if (mode === 'reset') reset(pipe)
        else pump(pipe)
      }
    },
    async close() {
      for (const pipe of [...pipes]) reset(pipe)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
