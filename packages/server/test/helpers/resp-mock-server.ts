import { createServer, type Socket } from 'node:net'

/**
 * One scripted answer of {@link startRespMockServer}. Build them with {@link reply}.
 * `hang` never answers (the connection stays open); `disconnect` closes the connection.
 */
export type RespReply =
  | { type: 'simple'; value: string }
  | { type: 'error'; message: string }
  | { type: 'integer'; value: number }
  | { type: 'bulk'; value: string | null }
  | { type: 'array'; value: RespReply[] | null }
  | { type: 'hang' }
  | { type: 'disconnect' }

/** Reply builders: `reply.error('READONLY You can\'t write against a read only replica.')`. */
export const reply = {
  ok: (): RespReply => ({ type: 'simple', value: 'OK' }),
  simple: (value: string): RespReply => ({ type: 'simple', value }),
  /** `message` starts with the error code: `OOM command not allowed…`, `NOAUTH …`, `NOPERM …`. */
  error: (message: string): RespReply => ({ type: 'error', message }),
  integer: (value: number): RespReply => ({ type: 'integer', value }),
  bulk: (value: string | null): RespReply => ({ type: 'bulk', value }),
  nil: (): RespReply => ({ type: 'bulk', value: null }),
  array: (value: RespReply[] | null): RespReply => ({ type: 'array', value }),
  hang: (): RespReply => ({ type: 'hang' }),
  disconnect: (): RespReply => ({ type: 'disconnect' }),
}

/** Common error replies, word for word as Redis 7 sends them. */
export const REDIS_ERRORS = {
  readonly: "READONLY You can't write against a read only replica.",
  oom: "OOM command not allowed when used memory > 'maxmemory'.",
  noauth: 'NOAUTH Authentication required.',
  wrongpass: 'WRONGPASS invalid username-password pair or user is disabled.',
  noperm: "NOPERM this user has no permissions to run the 'evalsha' command",
  loading: 'LOADING Redis is loading the dataset in memory',
} as const

/**
 * Answers one command (`command[0]` upper-cased; the rest as sent). Return a reply, or
 * `undefined` to fall through to the built-in answers.
 */
export type RespHandler = (command: string[], connection: number) => RespReply | undefined

/** A script: command name (upper case) → fixed reply or a handler. */
export type RespScript = Record<string, RespReply | ((args: string[], connection: number) => RespReply)>

export interface RespMockServer {
  readonly host: '127.0.0.1'
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** Every command received, in order, upper-cased name first. */
  readonly commands: string[][]
  /** Connections accepted so far. */
  readonly connections: number
  /** Replaces the script: later commands get these replies. */
  script(script: RespScript): void
  /** Closes every open connection (clients see a disconnect) without stopping the server. */
  dropConnections(): void
  close(): Promise<void>
}

/**
 * A tiny Redis (RESP2) server that answers what the test scripts, for failure cases a real
 * server cannot easily produce on demand: `-READONLY`, `-OOM`, `-NOAUTH`, `-NOPERM`, hangs,
 * disconnects. Commands the script does not name get built-in answers good enough for a
 * client's handshake: `PING` → `PONG`; `AUTH`, `SELECT`, `CLIENT`, `READONLY` → `OK`;
 * `INFO` → a minimal `redis_version:7.0.15`/`loading:0`/`role:master` text; `QUIT` → `OK` and
 * close; anything else → `-ERR unknown command`.
 *
 * @example
 * ```ts
 * const mock = await startRespMockServer({
 *   EVALSHA: reply.error(REDIS_ERRORS.readonly),
 *   EVAL: reply.error(REDIS_ERRORS.readonly),
 *   'CONFIG': (args) => args[0] === 'GET' ? reply.array([reply.bulk(args[1]!), reply.bulk('noeviction')]) : reply.ok(),
 * })
 * after(() => mock.close())
 * // … point a client at mock.url; later: mock.script({ PING: reply.hang() })
 * ```
 */
export async function startRespMockServer(initial: RespScript = {}): Promise<RespMockServer> {
  let current = initial
  let connections = 0
  const commands: string[][] = []
  const sockets = new Set<Socket>()

  const server = createServer((socket) => {
    const connection = ++connections
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffer = Buffer.alloc(0)
    let hung = false
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      for (;;) {
        const parsed = parseCommand(buffer)
        if (parsed === null) return
        buffer = buffer.subarray(parsed.consumed)
        if (parsed.command.length === 0) continue
        const [name = '', ...args] = parsed.command
        const command = [name.toUpperCase(), ...args]
        commands.push(command)
        // After a hang the connection answers nothing more, in order, as a stuck server would.
        if (hung) continue
        const scripted = current[command[0] as string]
        const answer = typeof scripted === 'function' ? scripted(args, connection) : (scripted ?? builtIn(command))
        if (answer.type === 'hang') {
          hung = true
          continue
        }
        if (answer.type === 'disconnect') {
          socket.destroy()
          return
        }
        socket.write(encode(answer))
        if (command[0] === 'QUIT') socket.end()
      }
    })
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
    url: `redis://127.0.0.1:${port}`,
    commands,
    get connections() {
      return connections
    },
    script(next) {
      current = next
    },
    dropConnections() {
      for (const s of sockets) s.destroy()
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function builtIn(command: string[]): RespReply {
  switch (command[0]) {
    case 'PING':
      return reply.simple('PONG')
    case 'AUTH':
    case 'SELECT':
    case 'CLIENT':
    case 'READONLY':
    case 'QUIT':
      return reply.ok()
    case 'INFO':
      return reply.bulk('# Server\r\nredis_version:7.0.15\r\n# Persistence\r\nloading:0\r\n# Replication\r\nrole:master\r\n')
    default:
      return reply.error(`ERR unknown command '${command[0]}'`)
  }
}

/** RESP2 encoding of a reply. */
export function encode(r: RespReply): string {
  switch (r.type) {
    case 'simple':
      return `+${r.value}\r\n`
    case 'error':
      return `-${r.message}\r\n`
    case 'integer':
      return `:${r.value}\r\n`
    case 'bulk':
      return r.value === null ? '$-1\r\n' : `$${Buffer.byteLength(r.value)}\r\n${r.value}\r\n`
    case 'array':
      return r.value === null ? '*-1\r\n' : `*${r.value.length}\r\n${r.value.map(encode).join('')}`
    default:
      throw new TypeError(`a ${r.type} reply has no encoding`)
  }
}

/**
 * Splits a byte stream a client sent into commands; answers them and the bytes of an
 * unfinished last one (to prepend to the next chunk). For counting what a client sends.
 */
export function parseCommands(buf: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = []
  let rest = buf
  for (;;) {
    const parsed = parseCommand(rest)
    if (parsed === null) return { commands, rest }
    rest = rest.subarray(parsed.consumed)
    if (parsed.command.length > 0) commands.push(parsed.command)
  }
}

/**
 * Parses one command from the front of `buf`: a RESP array of bulk strings (what clients send)
 * or an inline command (`PING\r\n`, as typed into telnet). `null` until a whole one is there.
 */
function parseCommand(buf: Buffer): { command: string[]; consumed: number } | null {
  const lineEnd = buf.indexOf('\r\n')
  if (lineEnd === -1) return null
  if (buf[0] !== 0x2a /* '*' */) {
    const line = buf.subarray(0, lineEnd).toString()
    return { command: line.split(' ').filter((s) => s !== ''), consumed: lineEnd + 2 }
  }
  const count = Number(buf.subarray(1, lineEnd).toString())
  let at = lineEnd + 2
  const command: string[] = []
  for (let i = 0; i < count; i++) {
    const end = buf.indexOf('\r\n', at)
    if (end === -1) return null
    const len = Number(buf.subarray(at + 1, end).toString())
    const start = end + 2
    if (buf.length < start + len + 2) return null
    command.push(buf.subarray(start, start + len).toString())
    at = start + len + 2
  }
  return { command, consumed: at }
}
