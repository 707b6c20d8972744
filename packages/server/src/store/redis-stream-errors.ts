import type { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { IOREDIS_VERIFIED } from './redis-pinned.js'

const ignore = (): void => {}

/**
 * ioredis 5 listens for a connection's first `error` only (`stream.once('error')`, in both its
 * connector and its connect handler). A TLS socket whose handshake the client refused (a CA that
 * did not sign the server's certificate) can then read the server's alert and emit a second
 * error, which nothing handles: an uncaughtException that would end the process (seen in the TLS
 * tests on Node 24 under load: "tlsv1 alert decode error"). Every stream the client opens gets one
 * more listener that keeps such later errors from being uncaught; ioredis still gets the first,
 * which is the one that names the cause.
 *
 * ioredis has no option for it, so this wraps the client's connector's `connect` (it resolves the
 * stream), on the verified versions only (redis-pinned.ts). Answers whether it could.
 */
export function sinkLaterStreamErrors(client: Redis): boolean {
  if (!IOREDIS_VERIFIED) return false
  const connector = (client as unknown as { connector?: { connect?: (...args: unknown[]) => Promise<unknown> } }).connector
  const connect = connector?.connect
  if (connector === undefined || typeof connect !== 'function') return false
  connector.connect = async (...args: unknown[]) => {
    const stream = await connect.apply(connector, args)
    if (typeof (stream as EventEmitter | null)?.on === 'function') (stream as EventEmitter).on('error', ignore)
    return stream
  }
  return true
}
