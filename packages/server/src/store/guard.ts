import type { Logger } from 'pino'
import { systemClock, type Clock } from '../clock.js'
import { withDeadline } from '../deadline.js'
import { StoreUnavailableError } from '../errors.js'
import { describeError } from '../secrets.js'
import type { Metrics } from '../metrics.js'
import { OutageSpans, type OutageSpan, unionSpans } from './outage-spans.js'
import type { SessionStore } from './types.js'

export interface GuardOptions {
  /** Deadline for every store call, in ms (SPEC §4: `STORE_TIMEOUT_MS`). */
  timeoutMs: number
  /** Masked store address for log lines. */
  address: string
  log: Logger
  metrics?: Metrics
  /** Consecutive failures that open the circuit. @default 3 */
  failureThreshold?: number
  /** How often a background ping probes a store whose circuit is open, in ms. @default 250 */
  probeIntervalMs?: number
  /** `Retry-After` seconds sent while the store is down. @default 1 */
  retryAfterSeconds?: number
  clock?: Clock
}

export type CircuitState = 'closed' | 'open'

/** A guarded store also reports its health, for `/readyz` and metrics. */
export interface GuardedStore extends SessionStore {
  readonly state: () => CircuitState
  /** Ping through the guard: latency in ms, or a StoreUnavailableError. */
  readonly check: () => Promise<number>
  /**
   * When the store could not answer this instance or, where the store keeps them, any instance
   * (outage-spans.ts), for a rotation's grace window.
   */
  readonly outages: (now: number) => readonly OutageSpan[]
  /** Settles once the spans other instances (or this one before a restart) saved are loaded. */
  readonly ready: Promise<void>
}

/** How often the spans other instances saved are read again (one command per instance). */
export const SHARED_OUTAGES_REFRESH_MS = 5_000

const OPERATIONS = [
  'createSession',
  'rotate',
  'migrateLegacy',
  'touch',
  'getSession',
  'revokeSession',
  'revokeUserSessions',
  'listUserSessions',
  'incrementCounter',
  'getCounter',
  'resetCounter',
  'releaseCounter',
  'ping',
] as const satisfies readonly (keyof SessionStore)[]

class Timeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'StoreTimeout'
  }
}
const storeTimeout = (ms: number): Error => new Timeout(ms)

/**
 * Wraps any SessionStore with SPEC §4's posture: a deadline on every call, a circuit breaker that
 * turns a dead store into an instant 503, a background probe that closes the circuit as soon as
 * the store answers again (recovery without a restart), one log line per failed operation, and
 * one line per state change. The only place StoreUnavailableError is thrown.
 */
export function guardStore(store: SessionStore, options: GuardOptions): GuardedStore {
  const { timeoutMs, log, metrics, address } = options
  const threshold = options.failureThreshold ?? 3
  const probeEvery = options.probeIntervalMs ?? 250
  const retryAfter = options.retryAfterSeconds ?? 1
  let failures = 0
  let state: CircuitState = 'closed'
  let probe: NodeJS.Timeout | null = null
  let closed = false
  const spans = new OutageSpans()
  /** Spans saved in the store by any instance (this one included), newest load. */
  let shared: readonly OutageSpan[] = []
  const wallClock = options.clock ?? systemClock
  metrics?.storeUp.set(1)
  metrics?.circuitState.set(0)

  function unavailable(operation: string, cause?: unknown): StoreUnavailableError {
    return new StoreUnavailableError({ operation, address, retryAfter, cause })
  }

  function open(cause: unknown): void {
    if (state === 'open') return
    state = 'open'
    metrics?.storeUp.set(0)
    metrics?.circuitState.set(1)
    // The one line per outage (SPEC §4), with the real cause: the store reports none of its own.
    log.error(
      { event: 'store_down', store: store.kind, address, cause: describeCause(cause), err: cause },
      'session store unavailable: circuit open, answering 503 until it recovers',
    )
    probe = setInterval(() => {
      void withDeadline(store.ping(), timeoutMs, storeTimeout).then(
        () => closeCircuit(),
        () => undefined,
      )
    }, probeEvery)
    probe.unref()
  }

  function closeCircuit(): void {
    if (state === 'closed') return
    state = 'closed'
    failures = 0
    share(spans.succeeded(wallClock()))
    if (probe !== null) clearInterval(probe)
    probe = null
    metrics?.storeUp.set(1)
    metrics?.circuitState.set(0)
    log.info({ event: 'store_recovered', store: store.kind, address }, 'session store recovered: circuit closed')
  }

  /** An outage just ended: saved where every instance (and this one after a restart) reads it. */
  function share(span: OutageSpan | null): void {
    if (span === null || store.saveOutage === undefined || closed) return
    const save = store.saveOutage(span, wallClock()).then(loadShared)
    // Best effort: a span not saved costs only the credit another instance would have given.
    void withDeadline(save, timeoutMs, storeTimeout).catch(() => undefined)
  }

  async function loadShared(): Promise<void> {
    if (store.loadOutages === undefined || closed) return
    shared = await store.loadOutages(wallClock())
  }

  /** `input` is the operation's first argument: its ids are read only if the call fails. */
  async function call<T>(operation: string, run: () => Promise<T>, input?: unknown): Promise<T> {
    // An open circuit answers at once: no request waits on a store known to be down.
    if (state === 'open') {
      spans.failed(wallClock())
      throw unavailable(operation)
    }
    const start = performance.now()
    const startedAt = wallClock()
    try {
      const result = await withDeadline(run(), timeoutMs, storeTimeout)
      failures = 0
      share(spans.succeeded(wallClock()))
      metrics?.storeLatency.observe({ operation, result: 'ok' }, (performance.now() - start) / 1000)
      return result
    } catch (err) {
      metrics?.storeLatency.observe({ operation, result: 'error' }, (performance.now() - start) / 1000)
      if (closed) throw unavailable(operation, err)
      spans.failed(startedAt)
      // SPEC §4: one line per failed operation with the real cause and the masked address.
      // It is also the `store_error` audit event of SPEC §3.5 (with the session id and the user
      // id when the operation's arguments name them), so a failed refresh writes one line, not two.
      log.warn(
        { event: 'store_error', audit: 'store_error', operation, ...auditIdsOf(operation, input), store: store.kind, address, err },
        `session store ${operation} failed`,
      )
      if (++failures >= threshold) open(err)
      throw unavailable(operation, err)
    }
  }

  const guarded = { kind: store.kind } as Record<string, unknown>
  for (const op of OPERATIONS) {
    const fn = store[op] as (...args: unknown[]) => Promise<unknown>
    guarded[op] = (...args: unknown[]) => call(op, () => fn.apply(store, args), args[0])
  }
  let refresher: NodeJS.Timeout | null = null
  if (store.loadOutages !== undefined) {
    refresher = setInterval(() => {
      if (state === 'closed') void withDeadline(loadShared(), timeoutMs, storeTimeout).catch(() => undefined)
    }, SHARED_OUTAGES_REFRESH_MS)
    refresher.unref()
  }
  guarded.ready = withDeadline(loadShared(), timeoutMs, storeTimeout).catch(() => undefined)
  guarded.close = async () => {
    closed = true
    if (probe !== null) clearInterval(probe)
    if (refresher !== null) clearInterval(refresher)
    await store.close()
  }
  guarded.state = () => state
  guarded.check = () => call('ping', () => store.ping())
  // Every refresh asks: the union is made again only when one of its two lists changed (a span
  // closed or aged out, a load from the store), not per refresh. A span read from the store that
  // has since aged out stays until the next load (at most 5 s): it credits nothing, as
  // graceCredit never gives more than MAX_GRACE_CREDIT_MS, half of KEEP_MS.
  let union: { own: readonly OutageSpan[]; shared: readonly OutageSpan[]; spans: readonly OutageSpan[] } | null = null
  guarded.outages = (now: number) => {
    const own = spans.list(now)
    if (shared.length === 0) return own
    if (union === null || union.own !== own || union.shared !== shared) union = { own, shared, spans: unionSpans(own, shared) }
    return union.spans
  }
  return guarded as unknown as GuardedStore
}

/** The session id an operation is about, for the failure's log line (never a token). */
interface AuditIds {
  sid?: string
  sub?: string
}

/** The session and user ids an operation's arguments name (a rotation: those of its token). */
function auditIdsOf(operation: string, arg: unknown): AuditIds {
  if (operation === 'getSession' || operation === 'revokeSession') return typeof arg === 'string' ? { sid: arg } : {}
  if (operation === 'revokeUserSessions' || operation === 'listUserSessions') return typeof arg === 'string' ? { sub: arg } : {}
  if (typeof arg !== 'object' || arg === null) return {}
  const ids: AuditIds = {}
  if ('id' in arg && typeof arg.id === 'string') ids.sid = arg.id
  if ('userId' in arg && typeof arg.userId === 'string') ids.sub = arg.userId
  return ids
}

/** `Name CODE: message` of the failure that opened the circuit (stores mask their errors). */
function describeCause(cause: unknown): string {
  return cause instanceof Error ? describeError(cause) : String(cause)
}
