import { scrubError } from '../secrets.js'
import { isReadOnlyReply, isReplyError, type RedisClient } from './redis-connection.js'

/**
 * A command sent while the connection is down: names why it is down (SPEC §4: the real cause
 * in the log line), where ioredis would only say that its stream is not writeable.
 */
export class RedisNotConnectedError extends Error {
  readonly code = 'REDIS_NOT_CONNECTED'
  constructor(cause: string | null, options?: ErrorOptions) {
    super(`not connected to Redis (${cause ?? 'connection closed'})`, options)
    this.name = 'RedisNotConnectedError'
  }
}

/** What {@link RedisCommands} needs of the connection (redis-connection.ts's `openRedisConnection`). */
export interface RedisCommandsOptions {
  client: RedisClient
  /** The passwords to mask in errors. */
  secrets: string[]
  /** Why the connection last failed, or `null` while it is fine. */
  lastConnectionError: () => string | null
  /** Tells the connection that Redis answered (a command's success). */
  answered: () => void
}

/**
 * How every store command is sent: refused at once while disconnected, errors masked, and
 * whether the node is read-only (a `READONLY` answer: a failover demoted our primary) tracked,
 * so the store's health probe can tell.
 */
export class RedisCommands {
  readonly #client: RedisClient
  readonly #secrets: string[]
  readonly #lastConnectionError: () => string | null
  readonly #answered: () => void
  /** Set by a READONLY answer; cleared once a write succeeds (ping then probes with a write). */
  #readOnly = false

  constructor(options: RedisCommandsOptions) {
    this.#client = options.client
    this.#secrets = options.secrets
    this.#lastConnectionError = options.lastConnectionError
    this.#answered = options.answered
  }

  /** True since a READONLY answer, until a command's result proves a write was taken. */
  get readOnly(): boolean {
    return this.#readOnly
  }

  /**
   * Runs commands and masks their errors. `wrote` says whether a result proves the node took a
   * write (which ends a read-only spell). While the client is not connected a command is not
   * sent: it fails at once naming the connection's last error (ioredis would refuse it too, with
   * no cause), which is what the guard's line then shows.
   */
  async run<T>(command: () => Promise<T>, wrote?: (result: T) => boolean): Promise<T> {
    if (this.#client.status !== 'ready') throw new RedisNotConnectedError(this.#lastConnectionError())
    try {
      const result = await command()
      this.#answered()
      if (this.#readOnly && wrote?.(result) === true) this.#readOnly = false
      return result
    } catch (err) {
      if (isReadOnlyReply(err)) this.#readOnly = true
      const scrubbed = scrubError(err, this.#secrets)
      // Not an answer from Redis but the client's own failure (the stream closing, ioredis
      // refusing to write to it) while the connection is known to be broken: name why.
      const broken = this.#lastConnectionError()
      if (broken !== null && !isReplyError(err)) throw new RedisNotConnectedError(broken, { cause: scrubbed })
      throw scrubbed
    }
  }
}
