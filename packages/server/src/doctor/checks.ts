import { createHash, randomBytes } from 'node:crypto'
import { lookup as dnsLookup } from 'node:dns/promises'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import tls from 'node:tls'
import {
  describeCorrections,
  isIPAddress,
  lintRedisURL,
  maskSecrets,
  parseRedisURL,
  secretsOf,
  type RedisURLParts,
} from '../redis-url.js'
import {
  describeBytes,
  parseReply,
  RespClient,
  RespClosedError,
  RespErrorReply,
  RespProtocolError,
  RespTimeoutError,
  type RespValue,
  encodeCommand,
} from './resp.js'

/**
 * The checks of `baton doctor` (SPEC §7), in the order they run. Each answers one question about
 * the Redis that `REDIS_URL` names and says what the answer means for baton. A check that fails
 * in a way that makes the later ones meaningless (no address, no connection, no protocol, no auth)
 * stops the run; the rest are reported as `skip`.
 */
export type CheckName =
  | 'url'
  | 'dns'
  | 'tcp'
  | 'tls'
  | 'protocol'
  | 'auth'
  | 'select'
  | 'latency'
  | 'server'
  | 'eviction'
  | 'persistence'
  | 'cluster'
  | 'write'
  | 'scripting'

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip'

/** One check's outcome. No field ever holds the password. */
export interface DoctorFinding {
  check: CheckName
  status: CheckStatus
  /** What was found. */
  message: string
  /** What it means for baton. */
  meaning: string
  /** What to do, for `warn` and `fail`. */
  fix?: string
  /** How long the check took, where timing is the point (connect, handshake, round trips). */
  ms?: number
}

/** The whole diagnosis: `usable` is false when any check failed (warnings keep it usable). */
export interface DoctorReport {
  usable: boolean
  /** The URL as checked (after lint corrections), password masked; `null` when there was none. */
  url: string | null
  findings: DoctorFinding[]
}

export interface DoctorOptions {
  /** The raw Redis URL, as found in `REDIS_URL` or `--redis-url`; `undefined` when neither is set. */
  url: string | undefined
  /** Timeout for each network step (lookup, connect, handshake, each command). @default 2000 */
  timeoutMs?: number
  /** A PEM file of the CA that signed the server's certificate (`REDIS_TLS_CA_FILE`). */
  tlsCAFile?: string | undefined
  /**
   * The PEM text of that CA, already read (start-up checks pass `Config`'s, the one the store
   * trusts). When set, `tlsCAFile` is not read.
   */
  tlsCA?: string | undefined
  /** Whether baton is configured for Redis Cluster (`REDIS_CLUSTER`). @default false */
  clusterConfigured?: boolean
  /** baton's store timeout (`STORE_TIMEOUT_MS`): a round trip slower than this fails. @default 500 */
  storeTimeoutMs?: number
}

/** Replaceable parts, for tests that cannot use the real thing (DNS needs a network). */
export interface DoctorDeps {
  lookup(host: string): Promise<{ address: string; family: number }[]>
}

const DEFAULT_DEPS: DoctorDeps = {
  lookup: (host) => dnsLookup(host, { all: true, verbatim: true }),
}

/** What every check means for baton when it cannot pass: the store answers 503 until fixed. */
const DOWN = 'baton cannot use this Redis: logins, refreshes and logouts answer 503 store_unavailable until it is fixed.'

const BATON_CHECKS: readonly CheckName[] = [
  'url',
  'dns',
  'tcp',
  'tls',
  'protocol',
  'auth',
  'select',
  'latency',
  'server',
  'eviction',
  'persistence',
  'cluster',
  'write',
  'scripting',
]

/**
 * Runs every check against the Redis that `options.url` names and returns the findings.
 * Never throws for an expected failure; every message is passed through `maskSecrets` with the
 * URL's password, so not even a server's or a library's error text can print it.
 */
export async function runDoctor(options: DoctorOptions, deps: DoctorDeps = DEFAULT_DEPS): Promise<DoctorReport> {
  const run = new Run(options, deps)
  try {
    await run.all()
  } finally {
    run.closeAll()
  }
  const secrets = options.url === undefined ? [] : secretsOf(options.url)
  const findings = run.findings.map((f) => maskFinding(f, secrets))
  return {
    usable: findings.every((f) => f.status !== 'fail'),
    url: run.maskedURL,
    findings,
  }
}

function maskFinding(f: DoctorFinding, secrets: string[]): DoctorFinding {
  const out: DoctorFinding = {
    check: f.check,
    status: f.status,
    message: maskSecrets(f.message, secrets),
    meaning: maskSecrets(f.meaning, secrets),
  }
  if (f.fix !== undefined) out.fix = maskSecrets(f.fix, secrets)
  if (f.ms !== undefined) out.ms = f.ms
  return out
}

/** Thrown inside a check to stop the run after it (the finding is already recorded). */
class Stop extends Error {}

class Run {
  readonly findings: DoctorFinding[] = []
  maskedURL: string | null = null
  readonly #options: DoctorOptions
  readonly #deps: DoctorDeps
  readonly #timeout: number
  #parts: RedisURLParts | null = null
  #addresses: { address: string; family: number }[] = []
  #address = ''
  #client: RespClient | null = null
  #needsAuth = false
  #info = new Map<string, string>()
  #infoAvailable = false
  #sockets: net.Socket[] = []

  constructor(options: DoctorOptions, deps: DoctorDeps) {
    this.#options = options
    this.#deps = deps
    this.#timeout = options.timeoutMs ?? 2000
  }

  async all(): Promise<void> {
    const steps: [CheckName, () => Promise<void>][] = [
      ['url', () => this.url()],
      ['dns', () => this.dns()],
      ['tcp', () => this.tcp()],
      ['tls', () => this.tls()],
      ['protocol', () => this.protocol()],
      ['auth', () => this.auth()],
      ['select', () => this.select()],
      ['latency', () => this.latency()],
      ['server', () => this.server()],
      ['eviction', () => this.eviction()],
      ['persistence', () => this.persistence()],
      ['cluster', () => this.cluster()],
      ['write', () => this.write()],
      ['scripting', () => this.scripting()],
    ]
    for (let i = 0; i < steps.length; i++) {
      const [name, step] = steps[i] ?? []
      if (name === undefined || step === undefined) continue
      try {
        await step()
      } catch (err) {
        if (!(err instanceof Stop)) throw err
        const reason = this.findings.at(-1)
        for (const [later] of steps.slice(i + 1)) {
          if (!this.#applies(later)) continue
          this.findings.push({
            check: later,
            status: 'skip',
            message: `skipped: the ${reason?.check ?? name} check failed`,
            meaning: 'Not checked; fix the failure above first.',
          })
        }
        return
      }
    }
  }

  closeAll(): void {
    this.#client?.close()
    for (const s of this.#sockets) s.destroy()
  }

  /** Whether a check applies to this URL at all (TLS only for rediss://, SELECT only for db > 0). */
  #applies(check: CheckName): boolean {
    if (!BATON_CHECKS.includes(check)) return false
    if (check === 'tls') return this.#parts?.tls ?? false
    if (check === 'select') return (this.#parts?.db ?? 0) > 0
    return true
  }

  #add(f: DoctorFinding): void {
    this.findings.push(f)
  }

  #stop(f: DoctorFinding): never {
    this.findings.push(f)
    throw new Stop()
  }

  get #hostPort(): string {
    const p = this.#parts
    if (p === null) return ''
    return `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`
  }

  // ── url ────────────────────────────────────────────────────────────────────────────────────
  async url(): Promise<void> {
    const raw = this.#options.url
    if (raw === undefined) {
      this.#stop({
        check: 'url',
        status: 'fail',
        message: 'No Redis URL: REDIS_URL is not set and --redis-url was not given.',
        meaning:
          'Without REDIS_URL baton keeps sessions in its embedded store, which needs no diagnosis; doctor checks a Redis connection.',
        fix: 'Run with REDIS_URL=redis://host:6379 (or --redis-url) to check the Redis baton should use.',
      })
    }
    const lint = lintRedisURL(raw)
    if (lint.kind === 'error') {
      this.#stop({
        check: 'url',
        status: 'fail',
        message: `The Redis URL ${lint.problem}`,
        meaning: `baton refuses to start with this URL (exit code 78). ${DOWN}`,
        fix: lint.fix,
      })
    }
    this.maskedURL = lint.maskedURL
    this.#parts = parseRedisURL(lint.url)
    const p = this.#parts
    const what = `${p.tls ? 'TLS' : 'plain TCP, no TLS'}, db ${p.db}${p.hasPassword ? ', with a password' : ''}`
    if (lint.findings.length === 0) {
      this.#add({
        check: 'url',
        status: 'ok',
        message: `${lint.maskedURL} is a valid Redis URL (${what}).`,
        meaning: 'baton reads this URL as written.',
      })
      return
    }
    // SPEC §5: one warning that shows the corrected form.
    this.#add({
      check: 'url',
      status: 'warn',
      message: `The Redis URL was corrected (${describeCorrections(lint.findings)}): using ${lint.maskedURL} (${what}).`,
      meaning: 'baton applies the same corrections at start and logs this warning once; it works.',
      fix: lint.findings[0]?.fix ?? '',
    })
  }

  // ── dns ────────────────────────────────────────────────────────────────────────────────────
  async dns(): Promise<void> {
    const host = this.#parts?.host ?? ''
    if (isIPAddress(host)) {
      this.#addresses = [{ address: host, family: net.isIPv6(host) ? 6 : 4 }]
      this.#add({
        check: 'dns',
        status: 'ok',
        message: `${host} is an IP address: no lookup needed.`,
        meaning: 'baton connects to this address directly.',
      })
      return
    }
    const start = performance.now()
    try {
      const addresses = await withTimeout(this.#deps.lookup(host), this.#timeout)
      const ms = elapsed(start)
      if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' })
      this.#addresses = addresses
      this.#add({
        check: 'dns',
        status: 'ok',
        message: `${host} resolves to ${addresses.map((a) => a.address).join(', ')}.`,
        meaning: 'baton can find the Redis host.',
        ms,
      })
    } catch (err) {
      const code = errorCode(err)
      const ms = elapsed(start)
      const message =
        code === 'TIMEOUT'
          ? `Looking up ${host} took longer than ${this.#timeout} ms.`
          : code === 'ENOTFOUND' || code === 'ENODATA'
            ? `${host} does not resolve (${code}): no such host name.`
            : code === 'EAI_AGAIN'
              ? `Looking up ${host} failed for now (EAI_AGAIN): no DNS server answered.`
              : `Looking up ${host} failed (${code}).`
      this.#stop({
        check: 'dns',
        status: 'fail',
        message,
        meaning: DOWN,
        fix: `Check the host name in the URL for typos; a private name (VPC, Docker network, Kubernetes service) resolves only from inside that network.`,
        ms,
      })
    }
  }

  // ── tcp ────────────────────────────────────────────────────────────────────────────────────
  async tcp(): Promise<void> {
    const port = this.#parts?.port ?? 0
    const failures: { address: string; code: string }[] = []
    const start = performance.now()
    for (const { address } of this.#addresses) {
      try {
        const socket = await this.#connect(address, port)
        this.#address = address
        this.#socket = socket
        const shown = this.#addresses.length > 1 || address !== this.#parts?.host ? ` (${address})` : ''
        this.#add({
          check: 'tcp',
          status: 'ok',
          message: `Connected to ${this.#hostPort}${shown}.`,
          meaning: 'The Redis port is reachable from here.',
          ms: elapsed(start),
        })
        return
      } catch (err) {
        failures.push({ address, code: errorCode(err) })
      }
    }
    const ms = elapsed(start)
    const first = failures.find((f) => f.code !== 'ECONNREFUSED') ?? failures[0]
    const code = first?.code ?? 'UNKNOWN'
    const where = `${this.#hostPort}${failures.length > 1 ? ` (tried ${failures.map((f) => f.address).join(', ')})` : ''}`
    const byCode: Record<string, { message: string; fix: string }> = {
      ECONNREFUSED: {
        message: `Connection refused by ${where} (ECONNREFUSED): nothing listens on that port.`,
        fix: 'Start Redis, or correct the port in the URL; check that Redis listens on this interface (its bind setting).',
      },
      TIMEOUT: {
        message: `No answer to the TCP connection to ${where} within ${this.#timeout} ms.`,
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
    const known = byCode[code] ?? {
      message: `Could not connect to ${where} (${code}).`,
      fix: 'Check the host, the port and the network path to Redis.',
    }
    this.#stop({ check: 'tcp', status: 'fail', message: known.message, meaning: DOWN, fix: known.fix, ms })
  }

  #socket: net.Socket | tls.TLSSocket | null = null

  #connect(address: string, port: number): Promise<net.Socket> {
    const socket = net.connect({ host: address, port })
    this.#sockets.push(socket)
    return this.#whenReady(socket, 'connect')
  }

  /**
   * Resolves with `socket` once it emits `ready` (`connect` for TCP, `secureConnect` for TLS).
   * Rejects with the socket's error, with code TIMEOUT after the doctor's timeout (the socket is
   * destroyed), and for TLS with code ECONNRESET when the socket closes during the handshake.
   * Once ready, later errors reach the RESP client's listeners instead of throwing.
   */
  #whenReady<S extends net.Socket>(socket: S, ready: 'connect' | 'secureConnect'): Promise<S> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }))
      }, this.#timeout)
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

  // ── tls ────────────────────────────────────────────────────────────────────────────────────
  async tls(): Promise<void> {
    const p = this.#parts
    if (p === null || !p.tls) return
    let ca = this.#options.tlsCA
    const caFile = this.#options.tlsCAFile
    if (ca === undefined && caFile !== undefined && caFile !== '') {
      try {
        ca = await readFile(caFile, 'utf8')
      } catch (err) {
        this.#stop({
          check: 'tls',
          status: 'fail',
          message: `Cannot read the CA file ${caFile} (${errorCode(err)}).`,
          meaning: 'baton cannot verify the server certificate without it and refuses to start.',
          fix: 'Point --tls-ca or REDIS_TLS_CA_FILE at the PEM file of the CA that signed the Redis certificate.',
        })
      }
    }
    const start = performance.now()
    const plain = this.#socket as net.Socket
    const options: tls.ConnectionOptions = { socket: plain, host: p.host, rejectUnauthorized: true }
    // SNI carries a host name, never an IP address (RFC 6066 §3).
    if (!isIPAddress(p.host)) options.servername = p.host
    if (ca !== undefined) options.ca = ca
    const secureSocket = tls.connect(options)
    const handshake = this.#whenReady(secureSocket, 'secureConnect')
    // A plain Redis reads a ClientHello as an inline command and waits for a line end that may
    // never come, so a handshake with it can only time out. Asking the port a plain PING at the
    // same time (no secret in it) tells at once: valid RESP back means the port has no TLS.
    const probe = this.#probePlain()
    type First = { kind: 'tls'; socket: tls.TLSSocket } | { kind: 'error'; error: unknown } | { kind: 'plain'; answer: string }
    const first = await Promise.race<First>([
      handshake.then(
        (socket) => ({ kind: 'tls', socket }),
        (error: unknown) => ({ kind: 'error', error }),
      ),
      probe.then((answer) => (answer === null ? new Promise<never>(() => {}) : { kind: 'plain', answer })),
    ])
    if (first.kind === 'tls') {
      this.#socket = first.socket
      this.#add({
        check: 'tls',
        status: 'ok',
        message: `TLS handshake done (${first.socket.getProtocol() ?? 'TLS'}); the certificate is trusted${
          ca !== undefined ? ' (CA from the CA file)' : ''
        }.`,
        meaning: 'Traffic between baton and Redis is encrypted and the server is who it claims to be.',
        ms: elapsed(start),
      })
      return
    }
    const ms = elapsed(start)
    const plainAnswer = first.kind === 'plain' ? first.answer : await probe
    if (plainAnswer !== null) {
      secureSocket.destroy()
      handshake.catch(() => undefined)
      this.#stop({
        check: 'tls',
        status: 'fail',
        message: `TLS/plain mismatch: ${this.#hostPort} speaks plain Redis, not TLS (a plain PING on the same port was answered ${plainAnswer}).`,
        meaning: `rediss:// asks for TLS and this port has none. ${DOWN}`,
        fix: `Use redis:// for this port, or enable TLS on the server (tls-port) and point rediss:// at that port.`,
        ms,
      })
    }
    const err = first.kind === 'error' ? first.error : null
    const code = errorCode(err)
    const text = err instanceof Error ? err.message : String(err)
    if (CERT_ERRORS.has(code)) {
      const altName = code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      this.#stop({
        check: 'tls',
        status: 'fail',
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
    this.#stop({
      check: 'tls',
      status: 'fail',
      message:
        code === 'TIMEOUT'
          ? `The TLS handshake with ${this.#hostPort} did not finish within ${this.#timeout} ms.`
          : `The TLS handshake with ${this.#hostPort} failed (${code}: ${text}).`,
      meaning: DOWN,
      fix: 'Check that this port serves Redis over TLS, and that the TLS versions and ciphers match.',
      ms,
    })
  }

  /** Sends a plain PING on a fresh connection; the reply's description if it was RESP, else null. */
  async #probePlain(): Promise<string | null> {
    try {
      const socket = await this.#connect(this.#address, this.#parts?.port ?? 0)
      const client = new RespClient(socket)
      try {
        const reply = await client.command(['PING'], this.#timeout)
        return reply instanceof RespErrorReply ? `"-${reply.code}"` : `"+${String(reply)}"`
      } finally {
        client.close()
      }
    } catch {
      return null
    }
  }

  /** Whether a TLS handshake succeeds (or reaches certificate checks) on a fresh connection. */
  async #probeTLS(): Promise<boolean> {
    const p = this.#parts
    if (p === null) return false
    return new Promise((resolve) => {
      // Certificate checks are off: this handshake only asks "is it TLS?" and sends no data.
      const options: tls.ConnectionOptions = { host: this.#address, port: p.port, rejectUnauthorized: false }
      if (!isIPAddress(p.host)) options.servername = p.host
      const socket = tls.connect(options)
      this.#sockets.push(socket)
      const done = (result: boolean): void => {
        clearTimeout(timer)
        socket.destroy()
        resolve(result)
      }
      const timer = setTimeout(() => done(false), this.#timeout)
      socket.once('secureConnect', () => done(true))
      socket.once('error', (err) => done(CERT_ERRORS.has(errorCode(err))))
      socket.once('close', () => done(false))
    })
  }

  // ── protocol ───────────────────────────────────────────────────────────────────────────────
  async protocol(): Promise<void> {
    const socket = this.#socket
    if (socket === null) return
    this.#client = new RespClient(socket)
    const start = performance.now()
    // PING before AUTH: nothing secret goes out until the port has proven it speaks Redis (a
    // password sent to a TLS port in plain text, or to some other service, would be exposed).
    let reply: RespValue
    try {
      reply = await this.#client.command(['PING'], this.#timeout)
    } catch (err) {
      const ms = elapsed(start)
      const tlsPort = !(this.#parts?.tls ?? false) && !(err instanceof RespTimeoutError) && (await this.#probeTLS())
      if (tlsPort) {
        this.#stop({
          check: 'protocol',
          status: 'fail',
          message: `TLS/plain mismatch: this port speaks TLS: use rediss:// (a plain PING ${
            err instanceof RespProtocolError ? `was answered with ${describeBytes(err.received)}` : 'made the server close the connection'
          }; a TLS handshake on the same port succeeds).`,
          meaning: `redis:// is plain TCP and this port accepts only TLS. ${DOWN}`,
          fix: `Write the URL with rediss:// (${this.maskedURL?.replace(/^redis:/, 'rediss:') ?? 'rediss://host:port'}).`,
          ms,
        })
      }
      if (err instanceof RespTimeoutError) {
        this.#stop({
          check: 'protocol',
          status: 'fail',
          message: `Connected, but no answer to PING within ${this.#timeout} ms (timeout).`,
          meaning: `Every store operation would time out. ${DOWN}`,
          fix: 'Check that the port belongs to Redis and not to a proxy or another service that waits; a busy Redis (a long script, a huge KEYS) also stalls. For a TLS-only port use rediss://.',
          ms,
        })
      }
      const cause = err instanceof RespClosedError ? errorCode(err.cause) : ''
      if (cause.includes('CERTIFICATE_REQUIRED')) {
        this.#stop({
          check: 'protocol',
          status: 'fail',
          message: `The server requires a client certificate (mutual TLS) and closed the connection (${cause}).`,
          meaning: `baton does not present a client certificate. ${DOWN}`,
          fix: 'Set tls-auth-clients to "optional" (or "no") on the Redis that baton uses, and rely on a password or ACL user.',
          ms,
        })
      }
      this.#stop({
        check: 'protocol',
        status: 'fail',
        message:
          err instanceof RespProtocolError
            ? `The server does not speak the Redis protocol: it answered PING with ${describeBytes(err.received)}.`
            : `The server closed the connection without answering PING.`,
        meaning: DOWN,
        fix: 'Check the port: it may belong to another service. A Redis in protected mode or with a client limit also closes connections.',
        ms,
      })
    }
    const ms = elapsed(start)
    if (reply === 'PONG') {
      this.#add({ check: 'protocol', status: 'ok', message: 'Redis answered PING.', meaning: 'The port speaks Redis.', ms })
      return
    }
    if (reply instanceof RespErrorReply && reply.code === 'NOAUTH') {
      this.#needsAuth = true
      this.#add({
        check: 'protocol',
        status: 'ok',
        message: 'Redis answered PING with NOAUTH: it requires a password.',
        meaning: 'The port speaks Redis.',
        ms,
      })
      return
    }
    if (reply instanceof RespErrorReply && reply.code === 'LOADING') {
      this.#stop({
        check: 'protocol',
        status: 'fail',
        message: 'Redis is loading its data set into memory (LOADING).',
        meaning: `Redis answers nothing else until it has loaded. ${DOWN}`,
        fix: 'Wait for the load to finish and run doctor again.',
        ms,
      })
    }
    if (reply instanceof RespErrorReply && reply.code === 'DENIED') {
      this.#stop({
        check: 'protocol',
        status: 'fail',
        message: 'Redis refuses this client (DENIED: protected mode, no password set and not a local connection).',
        meaning: DOWN,
        fix: 'Set a password on Redis (requirepass or an ACL user) and put it in the URL, or bind Redis to a network it trusts.',
        ms,
      })
    }
    this.#stop({
      check: 'protocol',
      status: 'fail',
      message: `PING got an unexpected answer: ${describeReply(reply)}.`,
      meaning: DOWN,
      fix: 'Check that the port belongs to Redis (or a Redis-compatible server).',
      ms,
    })
  }

  // ── auth ───────────────────────────────────────────────────────────────────────────────────
  async auth(): Promise<void> {
    const p = this.#parts
    if (p === null) return
    const password = p.password ?? ''
    // As ioredis does: AUTH <user> <password> with a user name, AUTH <password> without one,
    // and no AUTH at all without either.
    const args = p.username !== null ? ['AUTH', p.username, password] : password !== '' ? ['AUTH', password] : null
    if (args === null) {
      if (this.#needsAuth) {
        this.#stop({
          check: 'auth',
          status: 'fail',
          message: 'Redis requires a password (NOAUTH) and the URL has none.',
          meaning: DOWN,
          fix: `Put the password in the URL: ${p.tls ? 'rediss' : 'redis'}://:<password>@${this.#hostPort} (or user:<password>@ for an ACL user), percent-encoded.`,
        })
      }
      this.#add({
        check: 'auth',
        status: 'ok',
        message: 'No password in the URL and none required.',
        meaning: 'baton connects without AUTH; anyone who can reach this port can read and change its sessions.',
      })
      return
    }
    const reply = await this.#command('auth', args)
    const who = p.username !== null && p.hasPassword ? `user "${p.username}"` : p.username !== null ? 'the user in the URL' : 'the default user'
    if (reply === 'OK') {
      this.#add({ check: 'auth', status: 'ok', message: `Authenticated as ${who}.`, meaning: 'The credentials in the URL are accepted.' })
      return
    }
    const e = reply instanceof RespErrorReply ? reply : null
    const text = e?.message ?? ''
    if (e !== null && /without any password configured|no password is set/i.test(text)) {
      this.#add({
        check: 'auth',
        status: 'warn',
        message: 'The URL carries a password but Redis has none configured (AUTH was refused as unnecessary).',
        meaning: 'baton works (its client ignores this answer), but anyone who can reach this port can read and change sessions.',
        fix: 'Set a password on Redis (requirepass or an ACL user), or remove it from the URL.',
      })
      return
    }
    const colonless = p.username !== null && p.password === null
    if (e !== null && (e.code === 'WRONGPASS' || /invalid (username-)?password/i.test(text))) {
      this.#stop({
        check: 'auth',
        status: 'fail',
        message: `Redis refused the credentials: WRONGPASS (wrong password, or unknown or disabled user) for ${who}.`,
        meaning: DOWN,
        fix: colonless
          ? 'The URL has a user name but no password ("redis://name@host"). If that name is the password, write redis://:<password>@host.'
          : 'Copy the password again from the provider; percent-encode special characters (encodeURIComponent). With an ACL user, check that it exists and is "on".',
      })
    }
    if (e !== null && /wrong number of arguments for 'auth'/i.test(text)) {
      this.#stop({
        check: 'auth',
        status: 'fail',
        message: 'Redis does not accept a user name in AUTH (Redis 5 or older has no ACL users).',
        meaning: DOWN,
        fix: 'Remove the user name from the URL: redis://:<password>@host.',
      })
    }
    this.#stop({
      check: 'auth',
      status: 'fail',
      message: `AUTH failed: ${describeReply(reply)}.`,
      meaning: DOWN,
      fix: 'Check the user name and password in the URL.',
    })
  }

  // ── select ─────────────────────────────────────────────────────────────────────────────────
  async select(): Promise<void> {
    const db = this.#parts?.db ?? 0
    if (db === 0) return
    const reply = await this.#command('select', ['SELECT', String(db)])
    if (reply === 'OK') {
      this.#add({ check: 'select', status: 'ok', message: `Database ${db} selected.`, meaning: 'baton keeps its sessions in this database.' })
      return
    }
    const text = reply instanceof RespErrorReply ? reply.message : ''
    this.#stop({
      check: 'select',
      status: 'fail',
      message: /cluster/i.test(text)
        ? `SELECT ${db} is refused: Redis runs in cluster mode, which has only database 0.`
        : /out of range/i.test(text)
          ? `Database ${db} does not exist on this server (DB index is out of range).`
          : `SELECT ${db} failed: ${describeReply(reply)}.`,
      meaning: DOWN,
      fix: /cluster/i.test(text)
        ? 'Remove the db from the URL (or use /0) and set REDIS_CLUSTER=1.'
        : 'Use a database number below the server\'s "databases" setting (16 by default), or leave the path out.',
    })
  }

  // ── latency ────────────────────────────────────────────────────────────────────────────────
  async latency(): Promise<void> {
    const samples: number[] = []
    for (let i = 0; i < 5; i++) {
      const start = performance.now()
      const reply = await this.#command('latency', ['PING'])
      if (reply instanceof RespErrorReply) {
        this.#add({
          check: 'latency',
          status: 'warn',
          message: `PING after AUTH answered ${describeReply(reply)}.`,
          meaning: 'baton\'s health checks use PING; /readyz may report the store as down.',
          fix: 'Allow PING for baton\'s user (ACL +ping).',
        })
        return
      }
      samples.push(performance.now() - start)
    }
    samples.sort((a, b) => a - b)
    const median = round(samples[2] ?? 0)
    const max = round(samples[4] ?? 0)
    const storeTimeout = this.#options.storeTimeoutMs ?? 500
    const message = `PING round trip ${median} ms (median of 5, max ${max} ms).`
    if (median >= storeTimeout) {
      this.#add({
        check: 'latency',
        status: 'fail',
        message,
        meaning: `A round trip is slower than baton's store timeout (${storeTimeout} ms): every store operation would time out and answer 503.`,
        fix: 'Run baton close to Redis (same region or network), or raise STORE_TIMEOUT_MS.',
        ms: median,
      })
    } else if (median >= 100) {
      this.#add({
        check: 'latency',
        status: 'warn',
        message,
        meaning: `Every login and refresh waits one round trip; at this latency they are slow (store timeout ${storeTimeout} ms).`,
        fix: 'Run baton close to Redis (same region or network).',
        ms: median,
      })
    } else {
      this.#add({ check: 'latency', status: 'ok', message, meaning: 'Each refresh costs one round trip of about this much.', ms: median })
    }
  }

  // ── server (INFO) ──────────────────────────────────────────────────────────────────────────
  async server(): Promise<void> {
    const reply = await this.#command('server', ['INFO'])
    if (typeof reply !== 'string') {
      this.#add({
        check: 'server',
        status: 'warn',
        message: `INFO is not available: ${describeReply(reply)}.`,
        meaning: 'Doctor cannot read the role, eviction policy or persistence; the write and scripting checks still run.',
        fix: 'Allow INFO for this user (ACL +info) to let doctor and baton\'s start-up checks see the settings.',
      })
      return
    }
    this.#infoAvailable = true
    for (const line of reply.split(/\r?\n/)) {
      const colon = line.indexOf(':')
      if (colon > 0 && !line.startsWith('#')) this.#info.set(line.slice(0, colon), line.slice(colon + 1).trim())
    }
    const version = this.#info.get('redis_version') ?? 'unknown version'
    const role = this.#info.get('role') ?? 'unknown'
    if (role === 'slave' || role === 'replica') {
      const master = this.#info.get('master_host')
      const masterPort = this.#info.get('master_port')
      this.#add({
        check: 'server',
        status: 'fail',
        message: `Redis ${version} is a replica${master !== undefined ? ` of ${master}:${masterPort ?? '?'}` : ''} (role ${role}).`,
        meaning: `baton writes on every login, refresh and logout; a replica refuses writes (READONLY) or loses them. ${DOWN}`,
        fix: 'Point REDIS_URL at the primary (after a failover the old primary becomes a replica; with Sentinel, use REDIS_SENTINELS).',
      })
      return
    }
    const major = Number(version.split('.')[0])
    if (Number.isFinite(major) && major > 0 && major < 6) {
      this.#add({
        check: 'server',
        status: 'warn',
        message: `Redis ${version}, role ${role}: older than 6.`,
        meaning: 'baton works with it, but it has no ACL users and is out of support.',
        fix: 'Upgrade to Redis 6.2 or later.',
      })
      return
    }
    this.#add({ check: 'server', status: 'ok', message: `Redis ${version}, role ${role}.`, meaning: 'baton can write here.' })
  }

  async eviction(): Promise<void> {
    if (!this.#infoAvailable) return this.#unknown('eviction', 'eviction policy')
    const policy = this.#info.get('maxmemory_policy') ?? 'unknown'
    const maxmemory = Number(this.#info.get('maxmemory') ?? '0')
    const limit = maxmemory > 0 ? `maxmemory ${formatBytes(maxmemory)}` : 'no maxmemory limit set'
    if (policy.startsWith('allkeys-')) {
      this.#add({
        check: 'eviction',
        status: 'warn',
        message: `maxmemory-policy is ${policy} (${limit}).`,
        meaning: `When memory fills, Redis evicts any key, live sessions included: those users are logged out${
          maxmemory > 0 ? '' : ' (today nothing is evicted; the policy applies as soon as a limit is set)'
        }.`,
        fix: 'Set maxmemory-policy to noeviction (or volatile-lru) for the Redis that keeps sessions, and give it enough memory; do not share it with a cache.',
      })
      return
    }
    if (policy.startsWith('volatile-')) {
      this.#add({
        check: 'eviction',
        status: 'ok',
        message: `maxmemory-policy is ${policy} (${limit}).`,
        meaning: 'Only keys with a TTL can be evicted; baton\'s session keys have one, so a Redis shared with TTL-less data can still evict sessions when full. noeviction is the safest.',
      })
      return
    }
    this.#add({
      check: 'eviction',
      status: 'ok',
      message: `maxmemory-policy is ${policy} (${limit}).`,
      meaning:
        policy === 'noeviction'
          ? 'Redis never drops sessions to make room; when full, writes fail and logins answer 503 until memory is freed.'
          : 'baton reads this policy at start too.',
    })
  }

  async persistence(): Promise<void> {
    if (!this.#infoAvailable) return this.#unknown('persistence', 'persistence settings')
    const aof = this.#info.get('aof_enabled') === '1'
    const save = await this.#command('persistence', ['CONFIG', 'GET', 'save'])
    const rdb = Array.isArray(save) && typeof save[1] === 'string' ? save[1].trim() : null
    if (aof || (rdb !== null && rdb !== '')) {
      const what = [aof ? 'AOF on' : null, rdb !== null && rdb !== '' ? `RDB snapshots (save ${rdb})` : null].filter(Boolean).join(', ')
      this.#add({ check: 'persistence', status: 'ok', message: `Persistence: ${what}.`, meaning: 'Sessions survive a Redis restart (up to the last write saved).' })
      return
    }
    if (rdb === null) {
      this.#add({
        check: 'persistence',
        status: 'ok',
        message: `AOF is off; the RDB save setting cannot be read (CONFIG GET: ${describeReply(save)}).`,
        meaning: 'Managed services often hide CONFIG; check in the provider\'s console that snapshots or AOF are on, or a restart logs everyone out.',
      })
      return
    }
    this.#add({
      check: 'persistence',
      status: 'warn',
      message: 'No persistence: AOF is off and no RDB snapshots are configured (save "").',
      meaning: 'Sessions live only in memory: a Redis restart logs every user out (no one gets in who should not).',
      fix: 'Turn on AOF (appendonly yes) or RDB snapshots (save 3600 1 300 100 60 10000).',
    })
  }

  async cluster(): Promise<void> {
    if (!this.#infoAvailable) return this.#unknown('cluster', 'cluster mode')
    const enabled = this.#info.get('cluster_enabled') === '1'
    const configured = this.#options.clusterConfigured ?? false
    if (enabled && !configured) {
      this.#add({
        check: 'cluster',
        status: 'warn',
        message: 'Redis runs in cluster mode and baton is not configured for Cluster.',
        meaning: 'A standalone client gets MOVED replies for keys on other nodes, so most sessions would fail.',
        fix: 'Set REDIS_CLUSTER=1 (and REDIS_CLUSTER_NODES if more seed nodes help).',
      })
    } else if (!enabled && configured) {
      this.#add({
        check: 'cluster',
        status: 'warn',
        message: 'REDIS_CLUSTER is set but this Redis is not in cluster mode.',
        meaning: 'The cluster client will fail to load the slot map.',
        fix: 'Unset REDIS_CLUSTER for a standalone Redis.',
      })
    } else {
      this.#add({
        check: 'cluster',
        status: 'ok',
        message: enabled ? 'Cluster mode, and REDIS_CLUSTER is set.' : 'Standalone (not cluster mode).',
        meaning: 'baton\'s client mode matches the server.',
      })
    }
  }

  #unknown(check: CheckName, what: string): void {
    this.#add({ check, status: 'skip', message: `skipped: INFO is not available, so the ${what} cannot be read.`, meaning: 'Not checked.' })
  }

  // ── write ──────────────────────────────────────────────────────────────────────────────────
  async write(): Promise<void> {
    const key = `baton:doctor:${randomBytes(8).toString('hex')}`
    const value = randomBytes(8).toString('hex')
    const start = performance.now()
    // A TTL, so the key goes away even if the DEL never runs.
    const set = await this.#command('write', ['SET', key, value, 'PX', '60000'])
    if (set !== 'OK') return this.#writeFailure('write', `SET ${key}`, set)
    const got = await this.#command('write', ['GET', key])
    const del = await this.#command('write', ['DEL', key])
    if (got !== value) {
      this.#add({
        check: 'write',
        status: 'fail',
        message: `Read back ${describeReply(got)} instead of the value just written.`,
        meaning: `Something between baton and Redis does not keep writes. ${DOWN}`,
        fix: 'Check for a proxy in front of Redis, or another process deleting baton:* keys.',
      })
      return
    }
    if (del instanceof RespErrorReply) return this.#writeFailure('write', 'DEL', del)
    this.#add({
      check: 'write',
      status: 'ok',
      message: `Wrote, read back and deleted ${key} (with a TTL).`,
      meaning: 'baton can create, read and revoke sessions.',
      ms: elapsed(start),
    })
  }

  #writeFailure(check: CheckName, what: string, reply: RespValue): void {
    const e = reply instanceof RespErrorReply ? reply : null
    const code = e?.code ?? ''
    const known: Record<string, { message: string; fix: string }> = {
      READONLY: {
        message: `${what} was refused: READONLY (this Redis is a read-only replica).`,
        fix: 'Point REDIS_URL at the primary; after a failover, reconnect to the new primary (Sentinel: REDIS_SENTINELS).',
      },
      OOM: {
        message: `${what} was refused: OOM (used memory is over maxmemory and the policy evicts nothing).`,
        fix: 'Raise maxmemory, or free memory (other data in this Redis); baton\'s keys expire on their own.',
      },
      NOPERM: {
        message: `${what} was refused: NOPERM (the ACL user may not run this command or touch baton:* keys).`,
        fix: 'Grant baton\'s user its keys and commands, e.g. ACL SETUSER <user> ~baton:* +@read +@write +@scripting +ping +info.',
      },
      MISCONF: {
        message: `${what} was refused: MISCONF (Redis cannot write its RDB snapshot, often a full disk, and stops writes).`,
        fix: 'Free disk space on the Redis host or fix the snapshot directory\'s permissions.',
      },
      MOVED: {
        message: `${what} was redirected: MOVED (Redis runs in cluster mode).`,
        fix: 'Set REDIS_CLUSTER=1.',
      },
      CLUSTERDOWN: {
        message: `${what} was refused: CLUSTERDOWN (the cluster does not serve this key's slot).`,
        fix: 'Fix the cluster (every slot assigned, cluster_state:ok) and set REDIS_CLUSTER=1.',
      },
      CROSSSLOT: {
        message: `${what} was refused: CROSSSLOT (Redis runs in cluster mode).`,
        fix: 'Set REDIS_CLUSTER=1.',
      },
      NOAUTH: {
        message: `${what} was refused: NOAUTH (not authenticated).`,
        fix: 'Put the password in the URL.',
      },
    }
    const k = known[code]
    this.#add({
      check,
      status: 'fail',
      message: k?.message ?? `${what} failed: ${describeReply(reply)}.`,
      meaning: `baton writes on every login, refresh and logout. ${DOWN}`,
      fix: k?.fix ?? 'Check the Redis error above.',
    })
  }

  // ── scripting ──────────────────────────────────────────────────────────────────────────────
  async scripting(): Promise<void> {
    const key = `baton:doctor:${randomBytes(8).toString('hex')}`
    const value = randomBytes(8).toString('hex')
    // Declaring a key makes Redis apply the user's ACL key patterns, as for baton's own script.
    const script = 'return ARGV[1]'
    const start = performance.now()
    const evalReply = await this.#command('scripting', ['EVAL', script, '1', key, value])
    if (evalReply !== value) return this.#scriptFailure('EVAL', evalReply)
    const sha = createHash('sha1').update(script).digest('hex')
    const shaReply = await this.#command('scripting', ['EVALSHA', sha, '1', key, value])
    if (shaReply instanceof RespErrorReply && shaReply.code === 'NOSCRIPT') {
      this.#add({
        check: 'scripting',
        status: 'warn',
        message: 'EVAL works, but EVALSHA right after it answered NOSCRIPT (the script cache is not kept, as behind some proxies).',
        meaning: 'baton\'s client falls back to EVAL, sending the whole rotation script with every refresh: it works, with more traffic.',
        fix: 'Connect to Redis directly rather than through a proxy that spreads connections over nodes.',
        ms: elapsed(start),
      })
      return
    }
    if (shaReply !== value) return this.#scriptFailure('EVALSHA', shaReply)
    this.#add({
      check: 'scripting',
      status: 'ok',
      message: 'EVAL and EVALSHA run a script.',
      meaning: 'baton\'s refresh-token rotation (one server-side script, one round trip) can run.',
      ms: elapsed(start),
    })
  }

  #scriptFailure(command: string, reply: RespValue): void {
    const e = reply instanceof RespErrorReply ? reply : null
    const code = e?.code ?? ''
    const unknown = e !== null && /unknown command/i.test(e.message)
    this.#add({
      check: 'scripting',
      status: 'fail',
      message:
        code === 'NOPERM'
          ? `${command} was refused: NOPERM (the ACL user may not run scripts).`
          : code === 'NOSCRIPT'
            ? `${command} answered NOSCRIPT: scripts are not available.`
            : unknown
              ? `${command} is not available on this server (unknown command: disabled or renamed).`
              : `${command} failed: ${describeReply(reply)}.`,
      meaning: `baton's refresh-token rotation is one Lua script; without scripting every refresh fails. ${DOWN}`,
      fix:
        code === 'NOPERM'
          ? 'Grant scripting to baton\'s user: ACL SETUSER <user> +@scripting (EVAL, EVALSHA, SCRIPT).'
          : 'Use a Redis (or provider plan) that allows Lua scripts (EVAL/EVALSHA).',
    })
  }

  /**
   * Sends one command on the checked connection. A timeout, a closed connection or bytes that are
   * not RESP end the run here (a `fail` for `check`); error replies come back as values.
   */
  async #command(check: CheckName, args: string[]): Promise<RespValue> {
    const client = this.#client
    if (client === null) this.#stop({ check, status: 'fail', message: 'No connection.', meaning: DOWN })
    try {
      return await client.command(args, this.#timeout)
    } catch (err) {
      const message =
        err instanceof RespTimeoutError
          ? `${args[0]} got no answer within ${this.#timeout} ms (timeout).`
          : err instanceof RespProtocolError
            ? `${args[0]} got an answer that is not the Redis protocol: ${describeBytes(err.received)}.`
            : err instanceof RespClosedError
              ? `The server closed the connection during ${args[0]}.`
              : `${args[0]} failed (${errorCode(err)}).`
      this.#stop({
        check,
        status: 'fail',
        message,
        meaning: `A store operation would fail the same way. ${DOWN}`,
        fix: 'Check the Redis server\'s log and its client limits (maxclients, timeout); run doctor again.',
      })
    }
  }
}

const CERT_ERRORS = new Set([
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

function describeReply(reply: RespValue): string {
  if (reply instanceof RespErrorReply) return `"-${reply.message.slice(0, 200)}"`
  if (reply === null) return 'nil'
  if (Array.isArray(reply)) return `an array of ${reply.length}`
  return `"${String(reply).slice(0, 80)}"`
}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return err instanceof Error ? err.name : 'UNKNOWN'
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })), ms)
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}

function elapsed(start: number): number {
  return round(performance.now() - start)
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${round(n / 1024 ** 3)} GiB`
  if (n >= 1024 ** 2) return `${round(n / 1024 ** 2)} MiB`
  if (n >= 1024) return `${round(n / 1024)} KiB`
  return `${n} B`
}

// Exported for tests of the wire format only.
export const internals = { encodeCommand, parseReply }
