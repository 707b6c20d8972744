import { Socket, connect } from 'node:net'

/** One HTTP response as the load generator sees it: status and raw body bytes. */
export interface RawResponse {
  status: number
  body: Buffer
}

const HEADER_END = Buffer.from('\r\n\r\n')
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i

/**
 * A minimal HTTP/1.1 keep-alive connection: one request in flight at a time, responses framed by
 * `Content-Length` (every baton and Fastify reply has one). Much cheaper per request than
 * `node:http` or undici, so on a 2-core box the generator leaves more CPU to the server.
 * Not a general client: no chunked bodies, no redirects, no pipelining.
 */
export class Connection {
  readonly #socket: Socket
  #pending: Buffer | null = null
  #resolve: ((r: RawResponse) => void) | null = null
  #reject: ((e: Error) => void) | null = null
  #closed = false

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => this.#fail(err))
    socket.on('close', () => this.#fail(new Error('connection closed')))
  }

  static open(port: number, host = '127.0.0.1'): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host })
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new Connection(socket))
      })
      socket.once('error', reject)
    })
  }

  /** Sends a prepared request (see {@link buildRequest}) and resolves with the whole response. */
  send(request: Buffer | string): Promise<RawResponse> {
    if (this.#closed) return Promise.reject(new Error('connection closed'))
    if (this.#resolve !== null) return Promise.reject(new Error('one request at a time'))
    return new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      this.#socket.write(request)
    })
  }

  close(): void {
    this.#closed = true
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    const buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    const end = buf.indexOf(HEADER_END)
    if (end < 0) {
      this.#pending = buf
      return
    }
    const head = buf.toString('latin1', 0, end)
    const m = CONTENT_LENGTH.exec(head)
    const length = m === null ? 0 : Number(m[1])
    const total = end + 4 + length
    if (buf.length < total) {
      this.#pending = buf
      return
    }
    this.#pending = buf.length > total ? buf.subarray(total) : null
    const status = Number(head.slice(9, 12))
    const resolve = this.#resolve
    this.#resolve = null
    this.#reject = null
    resolve?.({ status, body: buf.subarray(end + 4, total) })
  }

  #fail(err: Error): void {
    this.#closed = true
    const reject = this.#reject
    this.#resolve = null
    this.#reject = null
    reject?.(err)
  }
}

/** A complete HTTP/1.1 request as bytes, ready to write as many times as needed. */
export function buildRequest(
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Buffer {
  const body = options.body === undefined ? null : Buffer.from(JSON.stringify(options.body))
  let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`
  for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`
  if (body !== null) head += `content-type: application/json\r\ncontent-length: ${body.length}\r\n`
  head += '\r\n'
  return body === null ? Buffer.from(head) : Buffer.concat([Buffer.from(head), body])
}
