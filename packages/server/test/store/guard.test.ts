import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import pino from 'pino'
import { StoreUnavailableError } from '../../src/errors.js'
import { createMetrics } from '../../src/metrics.js'
import { guardStore } from '../../src/store/guard.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { SessionStore } from '../../src/store/types.js'

/** A memory store that can be switched to hang (never answer) and counts the calls it gets. */
function switchableStore() {
  const inner = createMemoryStore()
  const state = { hang: false, calls: 0, pings: 0 }
  const store = { kind: 'switchable' } as Record<string, unknown>
  for (const [name, fn] of Object.entries(inner)) {
    if (typeof fn !== 'function') continue
    store[name] = (...args: unknown[]) => {
      if (name === 'close') return (fn as () => Promise<void>)()
      if (name === 'ping') state.pings++
      else state.calls++
      if (state.hang) return new Promise(() => {})
      return (fn as (...a: unknown[]) => Promise<unknown>)(...args)
    }
  }
  return { store: store as unknown as SessionStore, state }
}

function capture() {
  const lines: Record<string, unknown>[] = []
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>)
        cb()
      },
    }),
  )
  return { log, lines }
}

const NOW = Date.UTC(2026, 0, 1)

/** Waits (real time, in small steps) until `check` holds; fails after a generous bound. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.fail(`timed out waiting for ${what}`)
}

test('guard: every call to a hung store rejects with StoreUnavailableError naming the operation', async (t) => {
  const { store, state } = switchableStore()
  const { log } = capture()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, failureThreshold: 100 })
  t.after(() => guarded.close())
  state.hang = true
  const calls: [string, () => Promise<unknown>][] = [
    ['getSession', () => guarded.getSession('s', NOW)],
    ['rotate', () => guarded.rotate({ id: 's', jti: 'j', newJti: 'k', now: NOW, graceMs: 1, refreshLifetimeMs: 1 })],
    [
      'createSession',
      () =>
        guarded.createSession({
          id: 's',
          userId: 'u',
          jti: 'j',
          now: NOW,
          expiresAt: NOW + 1,
          absoluteExpiresAt: NOW + 1,
          userAgent: null,
          ip: null,
        }),
    ],
    ['incrementCounter', () => guarded.incrementCounter('k', 1000, NOW)],
    ['ping', () => guarded.ping()],
  ]
  const outcomes = await Promise.allSettled(calls.map(([, call]) => call()))
  outcomes.forEach((outcome, i) => {
    assert.equal(outcome.status, 'rejected')
    const err = (outcome as PromiseRejectedResult).reason as unknown
    assert.ok(err instanceof StoreUnavailableError)
    assert.equal(err.code, 'store_unavailable')
    assert.equal(err.status, 503)
    assert.equal(err.operation, calls[i]![0])
    assert.equal(err.address, 'test://store')
    assert.equal(err.headers['retry-after'], '1')
  })
})

test('guard: a store error (not a timeout) also becomes StoreUnavailableError with the cause kept', async (t) => {
  const inner = createMemoryStore()
  const store: SessionStore = {
    ...inner,
    kind: 'broken',
    async getSession() {
      throw new Error('READONLY You cannot write against a read only replica.')
    },
  }
  const { log, lines } = capture()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log })
  t.after(() => guarded.close())
  const err = await guarded.getSession('s', NOW).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof StoreUnavailableError)
  assert.match(String((err.cause as Error).message), /READONLY/)
  const failures = lines.filter((l) => l.event === 'store_error')
  assert.equal(failures.length, 1)
  assert.equal(failures[0]!.operation, 'getSession')
  assert.equal(failures[0]!.address, 'test://store')
})

test('guard: each store_error line names the session and the user its operation names', async (t) => {
  const inner = createMemoryStore()
  const fail = async (): Promise<never> => {
    throw new Error('ECONNRESET')
  }
  const store: SessionStore = {
    ...inner,
    kind: 'broken',
    getSession: fail,
    rotate: fail,
    createSession: fail,
    listUserSessions: fail,
    revokeSession: fail,
  }
  const { log, lines } = capture()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, failureThreshold: 100 })
  t.after(() => guarded.close())
  const session = {
    id: 's_1',
    userId: 'u_7',
    jti: 'j',
    now: NOW,
    expiresAt: NOW + 1,
    absoluteExpiresAt: NOW + 1,
    userAgent: null,
    ip: null,
  }
  const calls = [
    guarded.createSession(session),
    guarded.rotate({ id: 's_2', jti: 'j', newJti: 'k', now: NOW, graceMs: 1, refreshLifetimeMs: 1, userId: 'u_9' }),
    guarded.getSession('s_3', NOW),
    guarded.revokeSession('s_4', NOW),
    guarded.listUserSessions('u_8', NOW),
  ]
  await Promise.allSettled(calls)
  const ids = lines.filter((l) => l.audit === 'store_error').map((l) => [l.operation, l.sid, l.sub])
  assert.deepEqual(ids, [
    ['createSession', 's_1', 'u_7'],
    ['rotate', 's_2', 'u_9'],
    ['getSession', 's_3', undefined],
    ['revokeSession', 's_4', undefined],
    ['listUserSessions', undefined, 'u_8'],
  ])
})

test('guard: after failureThreshold failures the circuit opens and calls fail at once without reaching the store', async (t) => {
  const { store, state } = switchableStore()
  const { log, lines } = capture()
  const metrics = createMetrics()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, metrics, failureThreshold: 3, probeIntervalMs: 20 })
  t.after(() => guarded.close())
  assert.equal(guarded.state(), 'closed')
  state.hang = true
  for (let i = 0; i < 3; i++) await assert.rejects(guarded.getSession('s', NOW), StoreUnavailableError)
  assert.equal(guarded.state(), 'open')
  assert.equal(state.calls, 3)
  assert.equal((await metrics.circuitState.get()).values[0]?.value, 1)
  assert.equal((await metrics.storeUp.get()).values[0]?.value, 0)

  // Open: a hundred calls are refused without a single store call, and none is logged.
  const refused = await Promise.allSettled(Array.from({ length: 100 }, () => guarded.getSession('s', NOW)))
  assert.ok(refused.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError))
  assert.equal(state.calls, 3)
  assert.equal(lines.filter((l) => l.event === 'store_error').length, 3)
  assert.equal(lines.filter((l) => l.event === 'store_down').length, 1)
  await assert.rejects(guarded.check(), StoreUnavailableError)
})

test('guard: the store_down line names the real cause (the failure that opened the circuit), code included', async (t) => {
  const { log, lines } = capture()
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' })
  const failing = { ...createMemoryStore(), kind: 'failing', getSession: () => Promise.reject(refused) } as SessionStore
  const guarded = guardStore(failing, { timeoutMs: 50, address: 'test://store', log, failureThreshold: 2, probeIntervalMs: 1_000 })
  t.after(() => guarded.close())
  for (let i = 0; i < 2; i++) await assert.rejects(guarded.getSession('s', NOW), StoreUnavailableError)
  const down = lines.filter((l) => l.event === 'store_down')
  assert.equal(down.length, 1)
  assert.equal(down[0]?.cause, 'Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6390')
  assert.equal((down[0]?.err as { message?: string }).message, refused.message)
})

test('guard: the probe closes the circuit once ping answers again; one store_down and one store_recovered line per outage', async (t) => {
  const { store, state } = switchableStore()
  const { log, lines } = capture()
  const metrics = createMetrics()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, metrics, failureThreshold: 2, probeIntervalMs: 20 })
  t.after(() => guarded.close())

  for (let outage = 1; outage <= 2; outage++) {
    state.hang = true
    await Promise.allSettled(Array.from({ length: 5 }, () => guarded.getSession('s', NOW)))
    assert.equal(guarded.state(), 'open')
    // While it stays down, the probe keeps pinging and nothing else is logged.
    const pings = state.pings
    await until(() => state.pings >= pings + 3, 'three probe pings')
    assert.equal(guarded.state(), 'open')
    await assert.rejects(guarded.getSession('s', NOW), StoreUnavailableError)

    state.hang = false
    await until(() => guarded.state() === 'closed', 'the circuit to close')
    assert.equal(await guarded.getSession('missing', NOW), null)
    assert.equal((await metrics.storeUp.get()).values[0]?.value, 1)
    assert.equal((await metrics.circuitState.get()).values[0]?.value, 0)

    const events = lines.filter((l) => l.event === 'store_down' || l.event === 'store_recovered').map((l) => l.event)
    assert.deepEqual(events, Array.from({ length: outage }, () => ['store_down', 'store_recovered']).flat())
  }
})

test('guard: a success resets the failure count, so scattered failures never open the circuit', async (t) => {
  const { store, state } = switchableStore()
  const { log, lines } = capture()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, failureThreshold: 3 })
  t.after(() => guarded.close())
  for (let i = 0; i < 4; i++) {
    state.hang = true
    await assert.rejects(guarded.getSession('s', NOW), StoreUnavailableError)
    await assert.rejects(guarded.getSession('s', NOW), StoreUnavailableError)
    state.hang = false
    assert.equal(await guarded.getSession('s', NOW), null)
  }
  assert.equal(guarded.state(), 'closed')
  assert.equal(lines.filter((l) => l.event === 'store_down').length, 0)
})

test('guard: close stops the probe and closes the store', async () => {
  const { store, state } = switchableStore()
  const { log } = capture()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, failureThreshold: 1, probeIntervalMs: 10 })
  state.hang = true
  await assert.rejects(guarded.getSession('s', NOW), StoreUnavailableError)
  assert.equal(guarded.state(), 'open')
  await guarded.close()
  const pings = state.pings
  await new Promise((r) => setTimeout(r, 60))
  assert.equal(state.pings, pings, 'the probe still pings after close')
})

// Outage spans shared through the store (outage-spans.ts): saved when an outage ends, read back
// and merged with other instances' spans; the merged list is made once, not on every refresh.
test('guard: an outage that ends is saved to the store, merged with the spans others saved, and the union is reused until one changes', async (t) => {
  const { store: base, state } = switchableStore()
  const saved: [number, number][] = [[100, 200]] // another instance's outage
  let loads = 0
  const store = {
    ...(base as unknown as Record<string, unknown>),
    saveOutage: async (span: readonly [number, number]) => void saved.push([span[0], span[1]]),
    loadOutages: async () => {
      loads++
      return saved.map(([s, e]) => [s, e] as const)
    },
  } as unknown as SessionStore
  let now = 1_000
  const { log } = capture()
  const guarded = guardStore(store, { timeoutMs: 50, address: 'test://store', log, failureThreshold: 100, clock: () => now })
  t.after(() => guarded.close())
  await guarded.ready
  assert.equal(loads, 1, 'read once at start')
  assert.deepEqual(guarded.outages(now), [[100, 200]])

  state.hang = true
  await assert.rejects(guarded.getSession('s', now), StoreUnavailableError)
  state.hang = false
  now = 3_000
  await guarded.getSession('s', now)
  // The save and the load that follows it run in the background.
  for (let i = 0; i < 50 && loads < 2; i++) await new Promise((r) => setTimeout(r, 10))
  assert.deepEqual(saved[1], [1_000, 3_000], 'the span this instance saw, saved')
  const first = guarded.outages(4_000)
  assert.deepEqual(first, [
    [100, 200],
    [1_000, 3_000],
  ])
  assert.equal(guarded.outages(4_500), first, 'nothing changed: the same array, no work per refresh')
})
