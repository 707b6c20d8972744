import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BatonError } from '../../src/errors.js'
import { createRefreshGate } from '../../src/security/refresh-gate.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createFakeClock } from '../helpers/fake-clock.js'

const WINDOW_S = 300

/** A gate over the real memory store, limited to `max` failures per address per 300 s. */
function gate(max: number) {
  const clock = createFakeClock()
  const store = createMemoryStore()
  const limited = (resetAt: number) => new BatonError('rate_limited', { headers: { 'retry-after': String(Math.ceil((resetAt - clock.now()) / 1000)) } })
  return { clock, store, gate: createRefreshGate({ limit: { max, windowSeconds: WINDOW_S }, store, clock: clock.now, limited }) }
}

async function fail(g: ReturnType<typeof createRefreshGate>, ip: string): Promise<void> {
  await g.failed(await g.enter(ip))
}

/** Sprays `n` addresses with one failed refresh each: each is remembered, none is blocked. */
async function spray(g: ReturnType<typeof createRefreshGate>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fail(g, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
}

test('refresh gate: an address past its limit is refused until its window ends', async () => {
  const { gate: g, clock } = gate(2)
  await fail(g, '192.0.2.1')
  await fail(g, '192.0.2.1')
  await assert.rejects(g.enter('192.0.2.1'), { code: 'rate_limited' })
  // Another address is not affected.
  assert.equal(await g.enter('192.0.2.2'), '192.0.2.2')
  clock.advance(WINDOW_S * 1000)
  assert.equal(await g.enter('192.0.2.1'), '192.0.2.1')
})

test('refresh gate: spraying 10,000+ other addresses does not unblock a blocked one', async () => {
  // Before issue 16 the gate forgot every idle address once it held 10,000, blocked ones too:
  // an attacker blocked at one address sprayed others and was let through again.
  const { gate: g, clock } = gate(2)
  await fail(g, '192.0.2.1')
  await fail(g, '192.0.2.1')
  await assert.rejects(g.enter('192.0.2.1'), { code: 'rate_limited' })
  await spray(g, 10_050)
  await assert.rejects(g.enter('192.0.2.1'), { code: 'rate_limited' })
  // Still blocked to the last millisecond of its window, and no longer after it.
  clock.advance(WINDOW_S * 1000 - 1)
  await assert.rejects(g.enter('192.0.2.1'), { code: 'rate_limited' })
  clock.advance(1)
  assert.equal(await g.enter('192.0.2.1'), '192.0.2.1')
})

test('refresh gate: a counting address pushed out by a spray still learns its shared count at its next failure', async () => {
  const { gate: g } = gate(2)
  await fail(g, '192.0.2.1') // one of two failures, then 10,000 newer addresses push it out
  await spray(g, 10_050)
  // Forgotten here, so admitted; its failure is the store's second for this address: blocked.
  await fail(g, '192.0.2.1')
  await assert.rejects(g.enter('192.0.2.1'), { code: 'rate_limited' })
})

test('refresh gate: an address with refreshes in flight is never forgotten, however many others arrive', async () => {
  const { gate: g } = gate(2)
  // Two turns held: the address's whole budget. A third waits for one of them.
  const a = await g.enter('192.0.2.1')
  const b = await g.enter('192.0.2.1')
  let third: string | null | undefined
  const waiting = g.enter('192.0.2.1').then((k) => (third = k))
  await spray(g, 10_050)
  assert.equal(third, undefined)
  // Both fail: the waiting one is refused, not admitted past the limit.
  await g.failed(a)
  await g.failed(b)
  await assert.rejects(waiting, { code: 'rate_limited' })
})

test('refresh gate: successes leave nothing behind; an address that only succeeds is never limited', async () => {
  const { gate: g } = gate(1)
  for (let i = 0; i < 100; i++) g.done(await g.enter('192.0.2.1'))
  await fail(g, '192.0.2.1')
  await assert.rejects(g.enter('192.0.2.1'), { code: 'rate_limited' })
})
