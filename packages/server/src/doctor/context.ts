import type net from 'node:net'
import type { RedisURLParts } from '../redis-url.js'

/**
 * The context every doctor check starts from, built once per run. What checks learn is not kept
 * here: each check's outcome adds its typed part (see `Check` in check.ts).
 */

/** Replaceable parts, for tests that cannot use the real thing (DNS needs a network). */
export interface DoctorDeps {
  lookup(host: string): Promise<{ address: string; family: number }[]>
}

/** The doctor's settings, defaults applied. */
export interface Settings {
  /** Timeout for each network step (lookup, connect, handshake, each command). */
  readonly timeoutMs: number
  /** baton's store timeout: a round trip slower than this fails. */
  readonly storeTimeoutMs: number
  /** Whether baton is configured for Redis Cluster. */
  readonly clusterConfigured: boolean
  /** The CA's PEM text, already read; when set, `tlsCAFile` is not read. */
  readonly tlsCA: string | undefined
  /** A PEM file of the CA that signed the server's certificate. */
  readonly tlsCAFile: string | undefined
}

/**
 * Every socket a run opens, so that the run closes them all at its end, whichever check stopped it
 * (the probes' sockets too).
 */
export class SocketPool {
  readonly #sockets: net.Socket[] = []
  readonly #closers: (() => void)[] = []

  /** Registers `socket` to be destroyed at the end of the run, and returns it. */
  add<S extends net.Socket>(socket: S): S {
    this.#sockets.push(socket)
    return socket
  }

  /** Registers something else to close at the end of the run (the RESP client). */
  onClose(close: () => void): void {
    this.#closers.push(close)
  }

  closeAll(): void {
    for (const close of this.#closers) close()
    for (const s of this.#sockets) s.destroy()
  }
}

/** Where the run starts: the settings, the replaceable parts and the run's sockets. */
export interface BaseContext {
  readonly settings: Settings
  readonly deps: DoctorDeps
  readonly pool: SocketPool
  /** The raw Redis URL; `undefined` when none was given. */
  readonly rawURL: string | undefined
}

/** The Redis the URL names, as the `url` check read it. */
export interface Target {
  readonly parts: RedisURLParts
  /** The URL as checked (after lint corrections), password masked. */
  readonly maskedURL: string
  /** `host:port`, an IPv6 host in brackets. */
  readonly hostPort: string
}

/** What the `url` check learns; every later check has it. */
export interface TargetKnown {
  readonly target: Target
}
