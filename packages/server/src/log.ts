import { createRequire } from 'node:module'
import pino, { type Logger } from 'pino'
import { maskSecrets } from './secrets.js'

export type { Logger }

/**
 * Paths pino blanks before a line is written: tokens, passwords, cookies and the Authorization
 * header never reach a log, whatever a caller passes (SPEC §5, issue 6).
 */
export const REDACT_PATHS = [
  'password',
  'refresh',
  'access',
  'token',
  'secret',
  '*.password',
  '*.refresh',
  '*.access',
  '*.token',
  '*.secret',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-baton-csrf"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
]

export interface LoggerOptions {
  level: string
  /** Pretty, human output (development on a terminal). */
  pretty?: boolean
  /** Where lines go; defaults to stdout. */
  destination?: pino.DestinationStream
}

/** The service logger: JSON lines, redacted, with any URL password masked in messages and errors. */
export function createLogger(options: LoggerOptions): Logger {
  const opts: pino.LoggerOptions = {
    level: options.level,
    base: { service: 'baton' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: unknown) => {
        const { command: _command, ...s } = pino.stdSerializers.err(err as Error) as pino.SerializedError & { command?: unknown }
        // ioredis puts the failed command on its errors (`{name, args}`): for AUTH the args are
        // the password, so the command is dropped and only its name kept.
        const name = typeof _command === 'object' && _command !== null && 'name' in _command ? String(_command.name) : undefined
        return {
          ...s,
          message: maskSecrets(s.message ?? ''),
          stack: maskSecrets(s.stack ?? ''),
          ...(name !== undefined ? { command: name } : {}),
        }
      },
    },
    hooks: {
      // Messages are free text: mask any `scheme://user:password@` that a library put in one.
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskSecrets(a) : a)) as Parameters<typeof method>
        method.apply(this, masked)
      },
    },
  }
  if (options.destination !== undefined) return pino(opts, options.destination)
  if (options.pretty === true) {
    return pino(opts, pinoPretty())
  }
  return pino(opts)
}

function pinoPretty(): pino.DestinationStream {
  // pino-pretty as a synchronous stream (no worker thread), loaded only in development.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => pino.DestinationStream
  return pretty({ colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname,service' })
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger, made only when the request logs something. Fastify gives every request a
 * pino child bound to its request id; making one costs ~2 us (bindings are serialised through
 * the redaction), about 7% of a protected request, and at the default level almost no request
 * ever logs (issue 5). Lines written through it are the child's, request id included.
 */
class LazyChild {
  readonly #parent: Logger
  readonly #bindings: pino.Bindings
  readonly #options: pino.ChildLoggerOptions
  #child: Logger | null = null

  constructor(parent: Logger, bindings: pino.Bindings, options: pino.ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
    // A per-route level or serializers change what is written: make the real child now.
    if (options.level !== undefined || options.serializers !== undefined) this.#real()
  }

  #real(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options))
  }

  #log(level: Level, args: unknown[]): void {
    if (this.#child === null && !this.#parent.isLevelEnabled(level)) return
    ;(this.#real()[level] as (...a: unknown[]) => void)(...args)
  }

  get level(): string {
    return (this.#child ?? this.#parent).level
  }
  set level(value: string) {
    this.#real().level = value
  }
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level)
  }
  bindings(): pino.Bindings {
    return this.#real().bindings()
  }
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): Logger {
    return this.#real().child(bindings, options)
  }
  fatal(...args: unknown[]): void {
    this.#log('fatal', args)
  }
  error(...args: unknown[]): void {
    this.#log('error', args)
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args)
  }
  info(...args: unknown[]): void {
    this.#log('info', args)
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args)
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args)
  }
  silent(): void {}
}

/** Fastify's `childLoggerFactory`: each request's logger is a {@link LazyChild}. */
export function lazyChildLogger(parent: Logger, bindings: pino.Bindings, options: pino.ChildLoggerOptions): Logger {
  return new LazyChild(parent, bindings, options) as unknown as Logger
}
