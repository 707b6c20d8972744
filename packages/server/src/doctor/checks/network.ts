import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import tls from 'node:tls'
import { withDeadline } from '../../deadline.js'
import { isIPAddress } from '../../redis-url.js'
import { defineCheck, defineConditionalCheck, stop, type Outcome } from '../check.js'
import type { BaseContext, TargetKnown } from '../context.js'
import { DOWN, elapsed, errorCode } from '../describe.js'
import { CERT_ERRORS, connect, probePlain, whenReady } from '../sockets.js'

/** Phase `network`: find the host, reach the port, and for rediss:// finish a verified handshake. */

/** What `dns` learns: the addresses to try, in the resolver's order. */
export interface Resolved {
  readonly addresses: readonly { address: string; family: number }[]
}

/** What `tcp` learns: the address that answered and the open connection. */
export interface Connected {
  readonly address: string
  readonly socket: net.Socket
}

/** What `tls` learns: the verified TLS connection over `socket` (absent for redis://). */
export interface Secured {
  readonly tlsSocket?: tls.TLSSocket
}

export const dns = defineCheck({
  name: 'dns',
  phase: 'network',
  async run(ctx: BaseContext & TargetKnown): Promise<Outcome<Resolved>> {
    const host = ctx.target.parts.host
    if (isIPAddress(host)) {
      return {
        verdict: {
          status: 'ok',
          message: `${host} is an IP address: no lookup needed.`,
          meaning: 'baton connects to this address directly.',
        },
        learned: { addresses: [{ address: host, family: net.isIPv6(host) ? 6 : 4 }] },
      }
    }
    const timeout = ctx.settings.timeoutMs
    const start = performance.now()
    try {
      const lookup = ctx.deps.lookup(host).catch((e: unknown) => Promise.reject(e instanceof Error ? e : new Error(String(e))))
      const addresses = await withDeadline(lookup, timeout)
      const ms = elapsed(start)
      if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' })
      return {
        verdict: {
          status: 'ok',
          message: `${host} resolves to ${addresses.map((a) => a.address).join(', ')}.`,
          meaning: 'baton can find the Redis host.',
          ms,
        },
        learned: { addresses },
      }
    } catch (err) {
      const code = errorCode(err)
      const ms = elapsed(start)
      const message =
        code === 'TIMEOUT'
          ? `Looking up ${host} took longer than ${timeout} ms.`
          : code === 'ENOTFOUND' || code === 'ENODATA'
            ? `${host} does not resolve (${code}): no such host name.`
            : code === 'EAI_AGAIN'
              ? `Looking up ${host} failed for now (EAI_AGAIN): no DNS server answered.`
              : `Looking up ${host} failed (${code}).`
      stop({
        message,
        meaning: DOWN,
        fix: `Check the host name in the URL for typos; a private name (VPC, Docker network, Kubernetes service) resolves only from inside that network.`,
        ms,
      })
    }
  },
})

/** What a failed connection's code means, and what to do about it. */
function connectFailure(code: string, where: string, timeout: number): { message: string; fix: string } {
  const byCode: Record<string, { message: string; fix: string }> = {
    ECONNREFUSED: {
      message: `Connection refused by ${where} (ECONNREFUSED): nothing listens on that port.`,
      fix: 'Start Redis, or correct the port in the URL; check that Redis listens on this interface (its bind setting).',
    },
    TIMEOUT: {
      message: `No answer to the TCP connection to ${where} within ${timeout} ms.`,
      fix: 'A firewall or security group drops the packets, or the host is wrong: allow this machine to reach the port.',
    },
    EHOSTUNREACH: {
      message: `No route to ${where} (EHOSTUNREACH).`,
      fix: 'Check the network between this machine and the Redis host (VPC, peering, VPN).',
    },
    ENETUNREACH: {
      message: `The network of ${where} is unreachable (ENETUNREACH).`,
      fix: 'Check the network between this machine and the Redis host (VPC, peering, VPN, IPv6 routes).',
    },
  }
  return (
    byCode[code] ?? { message: `Could not connect to ${where} (${code}).`, fix: 'Check the host, the port and the network path to Redis.' }
  )
}

export const tcp = defineCheck({
  name: 'tcp',
  phase: 'network',
  async run(ctx: BaseContext & TargetKnown & Resolved): Promise<Outcome<Connected>> {
    const { parts, hostPort } = ctx.target
    const failures: { address: string; code: string }[] = []
    const start = performance.now()
    for (const { address } of ctx.addresses) {
      try {
        const socket = await connect(ctx.pool, address, parts.port, ctx.settings.timeoutMs)
        const shown = ctx.addresses.length > 1 || address !== parts.host ? ` (${address})` : ''
        return {
          verdict: {
            status: 'ok',
            message: `Connected to ${hostPort}${shown}.`,
            meaning: 'The Redis port is reachable from here.',
            ms: elapsed(start),
          },
          learned: { address, socket },
        }
      } catch (err) {
        failures.push({ address, code: errorCode(err) })
      }
    }
    const ms = elapsed(start)
    const first = failures.find((f) => f.code !== 'ECONNREFUSED') ?? failures[0]
    const where = `${hostPort}${failures.length > 1 ? ` (tried ${failures.map((f) => f.address).join(', ')})` : ''}`
    const known = connectFailure(first?.code ?? 'UNKNOWN', where, ctx.settings.timeoutMs)
    stop({ message: known.message, meaning: DOWN, fix: known.fix, ms })
  },
})

/** The CA to trust: the PEM text given, else the CA file's, else none (the system's CAs). */
async function caOf(ctx: BaseContext): Promise<string | undefined> {
  const { tlsCA, tlsCAFile } = ctx.settings
  if (tlsCA !== undefined || tlsCAFile === undefined || tlsCAFile === '') return tlsCA
  try {
    return await readFile(tlsCAFile, 'utf8')
  } catch (err) {
    stop({
      message: `Cannot read the CA file ${tlsCAFile} (${errorCode(err)}).`,
      meaning: 'baton cannot verify the server certificate without it and refuses to start.',
      fix: 'Point --tls-ca or REDIS_TLS_CA_FILE at the PEM file of the CA that signed the Redis certificate.',
    })
  }
}

type First = { kind: 'tls'; socket: tls.TLSSocket } | { kind: 'error'; error: unknown } | { kind: 'plain'; answer: string }

export const tlsCheck = defineConditionalCheck({
  name: 'tls',
  phase: 'network',
  applies: (url) => url.tls,
  async run(ctx: BaseContext & TargetKnown & Connected): Promise<Outcome<Secured>> {
    const { parts: p, hostPort } = ctx.target
    const timeout = ctx.settings.timeoutMs
    const ca = await caOf(ctx)
    const start = performance.now()
    const options: tls.ConnectionOptions = { socket: ctx.socket, host: p.host, rejectUnauthorized: true }
    // SNI carries a host name, never an IP address (RFC 6066 §3).
    if (!isIPAddress(p.host)) options.servername = p.host
    if (ca !== undefined) options.ca = ca
    const secureSocket = tls.connect(options)
    const handshake = whenReady(secureSocket, 'secureConnect', timeout)
    // A plain Redis reads a ClientHello as an inline command and waits for a line end that may
    // never come, so a handshake with it can only time out. Asking the port a plain PING at the
    // same time (no secret in it) tells at once: valid RESP back means the port has no TLS.
    const probe = probePlain(ctx.pool, ctx.address, p.port, timeout)
    const first = await Promise.race<First>([
      handshake.then(
        (socket) => ({ kind: 'tls', socket }),
        (error: unknown) => ({ kind: 'error', error }),
      ),
      probe.then((answer) => (answer === null ? new Promise<never>(() => {}) : { kind: 'plain', answer })),
    ])
    if (first.kind === 'tls') {
      return {
        verdict: {
          status: 'ok',
          message: `TLS handshake done (${first.socket.getProtocol() ?? 'TLS'}); the certificate is trusted${
            ca !== undefined ? ' (CA from the CA file)' : ''
          }.`,
          meaning: 'Traffic between baton and Redis is encrypted and the server is who it claims to be.',
          ms: elapsed(start),
        },
        learned: { tlsSocket: first.socket },
      }
    }
    const ms = elapsed(start)
    const plainAnswer = first.kind === 'plain' ? first.answer : await probe
    if (plainAnswer !== null) {
      secureSocket.destroy()
      handshake.catch(() => undefined)
      stop({
        message: `TLS/plain mismatch: ${hostPort} speaks plain Redis, not TLS (a plain PING on the same port was answered ${plainAnswer}).`,
        meaning: `rediss:// asks for TLS and this port has none. ${DOWN}`,
        fix: `Use redis:// for this port, or enable TLS on the server (tls-port) and point rediss:// at that port.`,
        ms,
      })
    }
    const err = first.kind === 'error' ? first.error : null
    const code = errorCode(err)
    if (CERT_ERRORS.has(code)) {
      const altName = code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      stop({
        message: altName
          ? `The server's certificate does not name ${p.host} (${code}).`
          : `The server's certificate is not trusted (${code}).`,
        meaning: `baton verifies the Redis certificate and will not connect. ${DOWN}`,
        fix: altName
          ? 'Connect with a host name that the certificate lists (its subjectAltName).'
          : 'Give baton the CA that signed the certificate: --tls-ca FILE here, REDIS_TLS_CA_FILE for the server.',
        ms,
      })
    }
    const text = err instanceof Error ? err.message : String(err)
    stop({
      message:
        code === 'TIMEOUT'
          ? `The TLS handshake with ${hostPort} did not finish within ${timeout} ms.`
          : `The TLS handshake with ${hostPort} failed (${code}: ${text}).`,
      meaning: DOWN,
      fix: 'Check that this port serves Redis over TLS, and that the TLS versions and ciphers match.',
      ms,
    })
  },
})
