import { lookup as dnsLookup } from 'node:dns/promises'
import { maskSecrets, secretsOf } from '../redis-url.js'
import type { CheckStatus, Verdict } from './check.js'
import { url } from './checks/config.js'
import { cluster, eviction, latency, persistence, server } from './checks/server.js'
import { scripting, write } from './checks/data.js'
import { dns, tcp, tlsCheck } from './checks/network.js'
import { auth, protocol, select } from './checks/session.js'
import { SocketPool, type DoctorDeps } from './context.js'
import { Pipeline, type NamesOf } from './pipeline.js'
import { encodeCommand, parseReply } from './resp.js'

/**
 * `baton doctor` (SPEC §7): the checks, in the order they run. Each answers one question about the
 * Redis that `REDIS_URL` names and says what the answer means for baton. A check that fails in a
 * way that makes the later ones meaningless (no address, no connection, no protocol, no auth)
 * stops the run; the rest are reported as `skip`. This chain is the only list of the checks.
 */
const DOCTOR = Pipeline.start(url) // config
  .then(dns) // network
  .then(tcp)
  .thenIf(tlsCheck)
  .then(protocol) // session
  .then(auth)
  .thenIf(select)
  .then(latency) // server
  .then(server)
  .then(eviction)
  .then(persistence)
  .then(cluster)
  .then(write) // data
  .then(scripting)

export type CheckName = NamesOf<typeof DOCTOR>
export type { CheckStatus, DoctorDeps }

/** One check's outcome. No field ever holds the password. */
export interface DoctorFinding extends Verdict {
  check: CheckName
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

const DEFAULT_DEPS: DoctorDeps = {
  lookup: (host) => dnsLookup(host, { all: true, verbatim: true }),
}

/**
 * Runs every check against the Redis that `options.url` names and returns the findings.
 * Never throws for an expected failure; every message is passed through `maskSecrets` with the
 * URL's password, so not even a server's or a library's error text can print it.
 */
export async function runDoctor(options: DoctorOptions, deps: DoctorDeps = DEFAULT_DEPS): Promise<DoctorReport> {
  const pool = new SocketPool()
  const settings = {
    timeoutMs: options.timeoutMs ?? 2000,
    storeTimeoutMs: options.storeTimeoutMs ?? 500,
    clusterConfigured: options.clusterConfigured ?? false,
    tlsCA: options.tlsCA,
    tlsCAFile: options.tlsCAFile,
  }
  let result
  try {
    result = await DOCTOR.run({ settings, deps, pool, rawURL: options.url })
  } finally {
    pool.closeAll()
  }
  const secrets = options.url === undefined ? [] : secretsOf(options.url)
  const findings = result.findings.map((f) => maskFinding(f, secrets))
  return {
    usable: findings.every((f) => f.status !== 'fail'),
    url: result.target?.maskedURL ?? null,
    findings,
  }
}

/** A copy with every string masked, its keys in the documented order (check, status, message, …). */
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

// Exported for tests of the wire format only.
export const internals = { encodeCommand, parseReply }
