import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createMemoryStore } from '../src/store/memory.js'
import type { SessionStore } from '../src/store/types.js'
import { type TestServer, createTestServer } from './helpers/make-server.js'

const PASSWORD = 'correct horse battery'

/** A memory store whose every call (ping included) fails while `down` is set: a dead store. */
function breakableStore(): { store: SessionStore; state: { down: boolean } } {
  const inner = createMemoryStore()
  const state = { down: false }
  const store = { kind: 'breakable' } as Record<string, unknown>
  for (const [name, fn] of Object.entries(inner)) {
    if (typeof fn !== 'function') continue
    store[name] = (...args: unknown[]) => {
      if (state.down && name !== 'close') return Promise.reject(new Error('connection refused'))
      return (fn as (...a: unknown[]) => Promise<unknown>).apply(inner, args)
    }
  }
  return { store: store as unknown as SessionStore, state }
}

async function setup(t: TestContext, env: Record<string, string> = {}, store?: SessionStore): Promise<TestServer> {
  const s = await createTestServer({ REFRESH_RATE_LIMIT: 'off', ...env }, store === undefined ? {} : { store })
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  return s
}

/** Scrapes `/metrics` through HTTP, as Prometheus would, into `name{labels}` → value. */
async function scrape(s: TestServer): Promise<Map<string, number>> {
  const res = await s.get('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain/)
  const out = new Map<string, number>()
  for (const line of res.body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** The value of one series (0 when absent: a counter nobody incremented is not exported). */
function value(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const entries = Object.entries(labels)
  for (const [key, v] of m) {
    if (key !== name && !key.startsWith(`${name}{`)) continue
    if (entries.every(([k, want]) => key.includes(`${k}="${want}"`))) return v
  }
  return 0
}

/** Waits (real time, small steps) for the guard's background probe; fails after a generous bound. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.fail(`timed out waiting for ${what}`)
}

test('metrics: HTTP requests are counted by route, method and status', async (t) => {
  const s = await setup(t)
  const { access } = await s.login('alice', PASSWORD)
  await s.get('/api/me/', access)
  await s.get('/api/me/', access)
  await s.get('/api/me/', 'not-a-token')
  const m = await scrape(s)
  assert.equal(value(m, 'baton_http_requests_total', { route: '/api/me/', method: 'GET', status: '200' }), 2)
  assert.equal(value(m, 'baton_http_requests_total', { route: '/api/me/', method: 'GET', status: '401' }), 1)
  assert.equal(value(m, 'baton_http_requests_total', { route: '/api/auth/token/', method: 'POST', status: '200' }), 1)
})

test('metrics: a login moves the ok outcome, a wrong password the invalid_credentials outcome', async (t) => {
  const s = await setup(t)
  let m = await scrape(s)
  assert.equal(value(m, 'baton_login_total', { outcome: 'ok' }), 0)
  await s.login('alice', PASSWORD)
  assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: 'wrong password' })).statusCode, 401)
  m = await scrape(s)
  assert.equal(value(m, 'baton_login_total', { outcome: 'ok' }), 1)
  assert.equal(value(m, 'baton_login_total', { outcome: 'invalid_credentials' }), 1)
})

test('metrics: refresh outcomes, a grace hit and a reuse detection each move their counter', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  assert.equal((await s.post('/api/auth/refresh/', { refresh: first.refresh })).statusCode, 200)
  let m = await scrape(s)
  assert.equal(value(m, 'baton_refresh_total', { outcome: 'ok' }), 1)
  assert.equal(value(m, 'baton_refresh_grace_hits_total'), 0)
  assert.equal(value(m, 'baton_refresh_reuse_detected_total'), 0)

  // The same token again inside the grace window (15 s): the same successor, counted as grace.
  s.clock.advance(1_000)
  assert.equal((await s.post('/api/auth/refresh/', { refresh: first.refresh })).statusCode, 200)
  m = await scrape(s)
  assert.equal(value(m, 'baton_refresh_grace_hits_total'), 1)
  assert.equal(value(m, 'baton_refresh_total', { outcome: 'grace' }), 1)

  // After the grace window the previous token is reuse: the session is revoked and counted.
  s.clock.advance(20_000)
  const reused = await s.post('/api/auth/refresh/', { refresh: first.refresh })
  assert.equal(reused.statusCode, 401)
  assert.equal(reused.json().code, 'token_reused')
  m = await scrape(s)
  assert.equal(value(m, 'baton_refresh_reuse_detected_total'), 1)
  assert.equal(value(m, 'baton_refresh_total', { outcome: 'token_reused' }), 1)
  assert.equal(value(m, 'baton_refresh_total', { outcome: 'ok' }), 1)
})

test('metrics: store operations are timed in the latency histogram by operation and result', async (t) => {
  const s = await setup(t)
  const { refresh } = await s.login('alice', PASSWORD)
  await s.post('/api/auth/refresh/', { refresh })
  await s.post('/api/auth/refresh/', { refresh })
  const m = await scrape(s)
  assert.equal(value(m, 'baton_store_operation_seconds_count', { operation: 'rotate', result: 'ok' }), 2)
  assert.equal(value(m, 'baton_store_operation_seconds_count', { operation: 'createSession', result: 'ok' }), 1)
  // Every observation falls in the +Inf bucket; the histogram is cumulative.
  assert.equal(value(m, 'baton_store_operation_seconds_bucket', { operation: 'rotate', result: 'ok', le: '+Inf' }), 2)
})

test('metrics: a failing store sets store_up to 0 and the circuit to open, counts the 503s, and recovers', async (t) => {
  const { store, state } = breakableStore()
  const s = await setup(t, {}, store)
  const { refresh } = await s.login('alice', PASSWORD)
  let m = await scrape(s)
  assert.equal(value(m, 'baton_store_up'), 1)
  assert.equal(value(m, 'baton_store_circuit_state'), 0)

  state.down = true
  for (let i = 0; i < 3; i++) assert.equal((await s.post('/api/auth/refresh/', { refresh })).statusCode, 503)
  m = await scrape(s)
  assert.equal(value(m, 'baton_store_up'), 0)
  assert.equal(value(m, 'baton_store_circuit_state'), 1)
  assert.equal(value(m, 'baton_refresh_total', { outcome: 'store_unavailable' }), 3)
  assert.equal(value(m, 'baton_store_operation_seconds_count', { operation: 'rotate', result: 'error' }), 3)
  assert.equal(value(m, 'baton_http_requests_total', { route: '/api/auth/refresh/', status: '503' }), 3)

  // The guard's background probe closes the circuit once the store answers again.
  state.down = false
  await until(async () => value(await scrape(s), 'baton_store_up') === 1, 'the store to be seen up again')
  m = await scrape(s)
  assert.equal(value(m, 'baton_store_circuit_state'), 0)
  assert.equal((await s.post('/api/auth/refresh/', { refresh })).statusCode, 200)
})
