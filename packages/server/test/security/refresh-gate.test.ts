import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BatonError } from '../../src/errors.js'
import { createRefreshGate } from '../../src/limits/refresh-gate.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createFakeClock } from '../helpers/fake-clock.js'

const WINDOW_S = 300

/** A gate over the real memory store, limited to `max` failures per address per 300 s. */
function gate(max: number) {
  const clock = createFakeClock()
  const store = createMemoryStore()
  const limited = (resetAt: number) =>
    new BatonError('rate_limited', { headers: { 'retry-after': String(Math.ceil((resetAt - clock.now()) / 1000)) } })
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

type GateOp = { op: 'fail' | 'succeed'; ip: number } | { op: 'advance'; ms: number } | { op: 'spray' }

test('refresh gate (property): one at a time, an address is refused exactly while the store counts its limit reached', async () => {
  // The model is the store's own count: failures of admitted refreshes in the window opened by
  // the first of them. A spray of 10,050 fresh addresses comes in the middle of every script
  // (the gate before issue 16 failed here: it forgot the blocked addresses).
  const MAX = 2
  const ops: fc.Arbitrary<GateOp> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ op: fc.constantFrom('fail' as const, 'succeed' as const), ip: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: WINDOW_S * 1000 }) }) },
  )
  const scripts = fc
    .tuple(fc.array(ops, { maxLength: 16 }), fc.array(ops, { maxLength: 10 }))
    .map(([before, after]): GateOp[] => [...before, { op: 'spray' }, ...after])
  await fc.assert(
    fc.asyncProperty(scripts, async (script) => {
      const { gate: g, clock } = gate(MAX)
      const windows = new Map<number, { count: number; resetAt: number }>()
      for (const o of script) {
        if (o.op === 'advance') clock.advance(o.ms)
        else if (o.op === 'spray') await spray(g, 10_050)
        else {
          const w = windows.get(o.ip)
          const live = w !== undefined && clock.now() < w.resetAt ? w : undefined
          const ip = `192.0.2.${o.ip + 1}`
          if (live !== undefined && live.count >= MAX) {
            await assert.rejects(g.enter(ip), { code: 'rate_limited' })
            continue
          }
          const key = await g.enter(ip)
          if (o.op === 'succeed') g.done(key)
          else {
            await g.failed(key)
            if (live === undefined) windows.set(o.ip, { count: 1, resetAt: clock.now() + WINDOW_S * 1000 })
            else live.count++
          }
        }
      }
    }),
    { numRuns: 6 },
  )
})
