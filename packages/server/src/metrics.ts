import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Prometheus metrics (SPEC §7). One registry per server, so tests and workers never collide. */
export interface Metrics {
  registry: Registry
  /** HTTP requests by route and status. */
  httpRequests: Counter<'route' | 'method' | 'status'>
  /** Refresh outcomes by code (`ok`, `grace`, `token_reused`, `store_unavailable`, …). */
  refreshOutcomes: Counter<'outcome'>
  /** Login outcomes by code. */
  loginOutcomes: Counter<'outcome'>
  /** Store operation latency in seconds, by operation and result. */
  storeLatency: Histogram<'operation' | 'result'>
  /** 1 while the store answers, 0 while it does not. */
  storeUp: Gauge
  /** Circuit breaker: 0 closed, 1 open, 2 half-open. */
  circuitState: Gauge
  /** Refresh-token reuse detections. */
  reuseDetections: Counter
  /** Refreshes answered from the grace window. */
  graceHits: Counter
  /** SPEC §9: simplejwt refresh tokens exchanged for a new baton session. */
  migrated: Counter
  /** Password re-hashes at login (`rehashed`, `skipped`: changed meanwhile, `deferred`: another was running, `failed`). */
  passwordRehashes: Counter<'outcome'>
  /** Issue 15: password checks `running` and logins `waiting` for one, in this process. */
  loginQueue: Gauge<'state'>
}

export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (options.defaults === true) collectDefaultMetrics({ register: registry, prefix: 'baton_' })
  const registers = [registry]
  return {
    registry,
    httpRequests: new Counter({
      name: 'baton_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    refreshOutcomes: new Counter({ name: 'baton_refresh_total', help: 'Refresh outcomes by code.', labelNames: ['outcome'], registers }),
    loginOutcomes: new Counter({ name: 'baton_login_total', help: 'Login outcomes by code.', labelNames: ['outcome'], registers }),
    storeLatency: new Histogram({
      name: 'baton_store_operation_seconds',
      help: 'Session store operation latency.',
      labelNames: ['operation', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    storeUp: new Gauge({ name: 'baton_store_up', help: '1 while the session store answers, 0 while it does not.', registers }),
    circuitState: new Gauge({
      name: 'baton_store_circuit_state',
      help: 'Store circuit breaker: 0 closed, 1 open, 2 half-open.',
      registers,
    }),
    reuseDetections: new Counter({
      name: 'baton_refresh_reuse_detected_total',
      help: 'Refresh-token reuse detections (sessions revoked).',
      registers,
    }),
    graceHits: new Counter({
      name: 'baton_refresh_grace_hits_total',
      help: 'Refreshes answered with the same successor inside the grace window.',
      registers,
    }),
    migrated: new Counter({
      name: 'baton_migrated_total',
      help: 'simplejwt refresh tokens exchanged for a new baton session (SPEC §9 cut-over); unset SIMPLEJWT_* once it stops rising.',
      registers,
    }),
    passwordRehashes: new Counter({
      name: 'baton_password_rehash_total',
      help: 'Password re-hashes at login to the current scrypt params, by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
    loginQueue: new Gauge({
      name: 'baton_login_queue',
      help: 'Password checks running and logins waiting for one (BATON_LOGIN_CONCURRENCY, BATON_LOGIN_QUEUE).',
      labelNames: ['state'],
      registers,
    }),
  }
}
