import net from 'node:net'
import tls from 'node:tls'
import { isIPAddress, type RedisURLParts } from '../redis-url.js'
import type { SocketPool } from './context.js'
import { errorCode } from './describe.js'
import { RespClient, RespErrorReply } from './resp.js'

/** Opening sockets for the doctor: each one in the run's pool, each step under the doctor's timeout. */

/** The TLS error codes that mean "the certificate", not "the connection". */
export const CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** A TCP connection to `address:port`, resolved once connected (see `whenReady`). */
export function connect(pool: SocketPool, address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return whenReady(pool.add(net.connect({ host: address, port })), 'connect', timeoutMs)
}

/**
 * Resolves with `socket` once it emits `ready` (`connect` for TCP, `secureConnect` for TLS).
 * Rejects with the socket's error, with code TIMEOUT after `timeoutMs` (the socket is destroyed),
 * and for TLS with code ECONNRESET when the socket closes during the handshake.
 * Once ready, later errors reach the RESP client's listeners instead of throwing.
 */
export function whenReady<S extends net.Socket>(socket: S, ready: 'connect' | 'secureConnect', timeoutMs: number): Promise<S> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }))
    }, timeoutMs)
    socket.once(ready, () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    })
    if (ready === 'secureConnect') {
      socket.once('close', () => {
        clearTimeout(timer)
        reject(Object.assign(new Error('closed during the handshake'), { code: 'ECONNRESET' }))
      })
    }
  })
}

/** Sends a plain PING on a fresh connection; the reply's description if it was RESP, else null. */
export async function probePlain(pool: SocketPool, address: string, port: number, timeoutMs: number): Promise<string | null> {
  try {
    const socket = await connect(pool, address, port, timeoutMs)
    const client = new RespClient(socket)
    try {
      const reply = await client.command(['PING'], timeoutMs)
      return reply instanceof RespErrorReply ? `"-${reply.code}"` : `"+${String(reply)}"`
    } finally {
      client.close()
    }
  } catch {
    return null
  }
}

/** Whether a TLS handshake succeeds (or reaches certificate checks) on a fresh connection. */
export function probeTLS(pool: SocketPool, parts: RedisURLParts, address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Certificate checks are off: this handshake only asks "is it TLS?" and sends no data.
    const options: tls.ConnectionOptions = { host: address, port: parts.port, rejectUnauthorized: false }
    if (!isIPAddress(parts.host)) options.servername = parts.host
    const socket = pool.add(tls.connect(options))
    const done = (result: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('secureConnect', () => done(true))
    socket.once('error', (err) => done(CERT_ERRORS.has(errorCode(err))))
    socket.once('close', () => done(false))
  })
}
