import { stop } from './check.js'
import { DOWN, errorCode } from './describe.js'
import { describeBytes, RespClient, RespClosedError, RespProtocolError, RespTimeoutError, type RespValue } from './resp.js'

/**
 * The checked connection once it has answered PING: one command at a time, each under the doctor's
 * timeout. A timeout, a closed connection or bytes that are not RESP stop the run (a `fail` for
 * the check that sent the command); error replies come back as values.
 */
export class RedisSession {
  readonly #client: RespClient
  readonly #timeoutMs: number

  constructor(client: RespClient, timeoutMs: number) {
    this.#client = client
    this.#timeoutMs = timeoutMs
  }

  async command(args: string[]): Promise<RespValue> {
    try {
      return await this.#client.command(args, this.#timeoutMs)
    } catch (err) {
      const message =
        err instanceof RespTimeoutError
          ? `${args[0]} got no answer within ${this.#timeoutMs} ms (timeout).`
          : err instanceof RespProtocolError
            ? `${args[0]} got an answer that is not the Redis protocol: ${describeBytes(err.received)}.`
            : err instanceof RespClosedError
              ? `The server closed the connection during ${args[0]}.`
              : `${args[0]} failed (${errorCode(err)}).`
      stop({
        message,
        meaning: `A store operation would fail the same way. ${DOWN}`,
        fix: "Check the Redis server's log and its client limits (maxclients, timeout); run doctor again.",
      })
    }
  }
}
