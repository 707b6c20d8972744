import type { Duplex } from 'node:stream'

/**
 * A minimal RESP2 client for `baton doctor`, over a socket the doctor has already opened.
 *
 * Why not ioredis here: the doctor has to see what the server really sent. A TLS port answering
 * a plain PING with a TLS alert, an HTTP server answering `HTTP/1.1 400`, a server that accepts and
 * never answers, a connection closed before any reply — ioredis hides all four behind reconnects
 * and a generic error, and its reply errors carry the command's arguments (an `AUTH` password
 * included). Speaking RESP over the socket that the TCP and TLS checks opened keeps one connection,
 * one timeout per command, and every byte visible. Replies are RESP2 (the doctor never sends HELLO).
 */

/** An error reply (`-ERR …`, `-NOAUTH …`): a value, not an exception. */
export class RespErrorReply {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
  /** The first word: `ERR`, `NOAUTH`, `WRONGPASS`, `READONLY`, `OOM`, `NOPERM`, `MOVED`… */
  get code(): string {
    return this.message.split(' ', 1)[0] ?? ''
  }
}

export type RespValue = string | number | null | RespErrorReply | RespValue[]

/** The server sent bytes that are not RESP (a TLS record, an HTTP answer, …). */
export class RespProtocolError extends Error {
  /** The first bytes received, at most 64. */
  readonly received: Buffer
  constructor(received: Buffer) {
    super('the server answered with bytes that are not the Redis protocol')
    this.name = 'RespProtocolError'
    this.received = received.subarray(0, 64)
  }
}

/** No reply within the timeout. */
export class RespTimeoutError extends Error {
  constructor(ms: number) {
    super(`no reply within ${ms} ms`)
    this.name = 'RespTimeoutError'
  }
}

/** The connection closed (or failed) before the reply came. */
export class RespClosedError extends Error {
  /** Whether any byte was ever received on this connection. */
  readonly receivedAny: boolean
  constructor(receivedAny: boolean, cause?: unknown) {
    super('the server closed the connection', { cause })
    this.name = 'RespClosedError'
    this.receivedAny = receivedAny
  }
}

interface Pending {
  resolve(value: RespValue): void
  reject(error: Error): void
  timer: NodeJS.Timeout
}

/** One Redis connection; commands are sent one at a time, each with its own timeout. */
export class RespClient {
  readonly #socket: Duplex
  #buffer: Buffer = Buffer.alloc(0)
  #receivedAny = false
  #pending: Pending | null = null
  #failure: Error | null = null

  constructor(socket: Duplex) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => this.#fail(new RespClosedError(this.#receivedAny, err)))
    // 'close' (not 'end'): it comes after any 'error', so a TLS alert's cause is kept.
    socket.on('close', () => this.#fail(new RespClosedError(this.#receivedAny)))
  }

  /** Whether the connection is still usable (no close, timeout or protocol error so far). */
  get isOpen(): boolean {
    return this.#failure === null
  }

  /** Sends one command and waits for its reply. Error replies resolve as `RespErrorReply`. */
  command(args: readonly string[], timeoutMs: number): Promise<RespValue> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    if (this.#pending !== null) return Promise.reject(new Error('one command at a time'))
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The reply may still come; the connection's state is unknown, so it is closed.
        this.#fail(new RespTimeoutError(timeoutMs))
      }, timeoutMs)
      this.#pending = { resolve, reject, timer }
      this.#socket.write(encodeCommand(args))
    })
  }

  close(): void {
    this.#fail(new RespClosedError(this.#receivedAny))
  }

  #onData(chunk: Buffer): void {
    this.#receivedAny = true
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    let parsed: { value: RespValue; next: number } | null
    try {
      parsed = parseReply(this.#buffer, 0)
    } catch (err) {
      this.#fail(err as Error)
      return
    }
    if (parsed === null) return
    this.#buffer = this.#buffer.subarray(parsed.next)
    const pending = this.#pending
    this.#pending = null
    if (pending === null) {
      // A reply nobody asked for (a server push, or garbage after a reply): not Redis as we know it.
      this.#fail(new RespProtocolError(chunk))
      return
    }
    clearTimeout(pending.timer)
    pending.resolve(parsed.value)
  }

  #fail(error: Error): void {
    if (this.#failure === null) this.#failure = error
    const pending = this.#pending
    this.#pending = null
    if (pending !== null) {
      clearTimeout(pending.timer)
      pending.reject(error)
    }
    this.#socket.destroy()
  }
}

/** RESP2 encoding of a command as an array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  let out = `*${args.length}\r\n`
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return Buffer.from(out)
}

/**
 * Parses one RESP2 reply starting at `offset`. Returns `null` when more bytes are needed and
 * throws `RespProtocolError` on bytes that cannot be RESP.
 */
export function parseReply(buf: Buffer, offset: number): { value: RespValue; next: number } | null {
  if (offset >= buf.length) return null
  const type = String.fromCharCode(buf[offset] ?? 0)
  if (!'+-:$*'.includes(type)) throw new RespProtocolError(buf.subarray(offset))
  const lineEnd = buf.indexOf('\r\n', offset)
  if (lineEnd === -1) {
    // A header line is short; a long one without CRLF is not RESP.
    if (buf.length - offset > 64 * 1024) throw new RespProtocolError(buf.subarray(offset))
    return null
  }
  const line = buf.toString('utf8', offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, next }
    case '-':
      return { value: new RespErrorReply(line), next }
    case ':': {
      if (!/^-?\d+$/.test(line)) throw new RespProtocolError(buf.subarray(offset))
      return { value: Number(line), next }
    }
    case '$': {
      if (!/^-?\d+$/.test(line)) throw new RespProtocolError(buf.subarray(offset))
      const len = Number(line)
      if (len < 0) return { value: null, next }
      if (buf.length < next + len + 2) return null
      return { value: buf.toString('utf8', next, next + len), next: next + len + 2 }
    }
    default: {
      if (!/^-?\d+$/.test(line)) throw new RespProtocolError(buf.subarray(offset))
      const count = Number(line)
      if (count < 0) return { value: null, next }
      const items: RespValue[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at)
        if (item === null) return null
        items.push(item.value)
        at = item.next
      }
      return { value: items, next: at }
    }
  }
}

/** A printable excerpt of bytes that were not RESP, for a message: `HTTP/1.1 400 Bad Request`. */
export function describeBytes(bytes: Buffer): string {
  const first = bytes[0]
  // A TLS record starts with its content type (0x14–0x17: handshake, alert…) then version 3.x.
  if (first !== undefined && first >= 0x14 && first <= 0x17 && bytes[1] === 0x03) return 'a TLS record'
  const text = bytes
    .toString('latin1', 0, 40)
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()
  return text === '' ? `${bytes.length} binary bytes` : `"${text}"`
}
