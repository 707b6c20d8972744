import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createTTLCache } from '../src/ttl-cache.js'
import { createFakeClock } from './helpers/fake-clock.js'

type Op =
  { op: 'set'; key: number; value: number } | { op: 'get'; key: number } | { op: 'delete'; key: number } | { op: 'advance'; ms: number }

const KEYS = 6
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.nat(KEYS - 1), value: fc.nat() }),
  fc.record({ op: fc.constant('get' as const), key: fc.nat(KEYS - 1) }),
  fc.record({ op: fc.constant('delete' as const), key: fc.nat(KEYS - 1) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.nat(40) }),
)

/**
 * The rule as a plain list, written for clarity, not speed: entries in the order they were set
 * (a key set again moves to the end), the front dropped while there are more than `max`, an
 * entry answered while now < set time + ttl. Nothing expired is ever removed early here, so the
 * cache's sweeping must not change a single answer.
 */
function model(max: number, ttl: number) {
  let list: { key: number; value: number; at: number }[] = []
  return {
    set(key: number, value: number, at: number) {
      if (max === 0) return
      list = list.filter((e) => e.key !== key)
      list.push({ key, value, at })
      while (list.length > max) list.shift()
    },
    get(key: number, now: number) {
      const e = list.find((x) => x.key === key)
      return e !== undefined && now < e.at + ttl ? e.value : undefined
    },
    delete(key: number) {
      list = list.filter((e) => e.key !== key)
    },
  }
}

test('ttl cache: answers exactly as the plain-list model, and never holds more than maxEntries', () => {
  fc.assert(
    fc.property(fc.nat(5), fc.integer({ min: 1, max: 60 }), fc.array(op, { maxLength: 120 }), (max, ttl, ops) => {
      const clock = createFakeClock(0)
      const cache = createTTLCache<number, number>({ maxEntries: max, ttlMs: ttl, now: clock.now })
      const m = model(max, ttl)
      for (const o of ops) {
        if (o.op === 'advance') clock.advance(o.ms)
        else if (o.op === 'set') {
          cache.set(o.key, o.value)
          m.set(o.key, o.value, clock.now())
        } else if (o.op === 'delete') {
          cache.delete(o.key)
          m.delete(o.key)
        } else assert.equal(cache.get(o.key), m.get(o.key, clock.now()))
        assert.ok(cache.size <= max)
      }
      for (let k = 0; k < KEYS; k++) assert.equal(cache.get(k), m.get(k, clock.now()))
    }),
    { numRuns: 500 },
  )
})

test('ttl cache: whatever the clock does (backwards too), a get never answers an expired or stale value', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(KEYS - 1), fc.nat(), fc.integer({ min: -50, max: 50 })), { maxLength: 100 }), (steps) => {
      let t = 1000
      const cache = createTTLCache<number, number>({ maxEntries: 3, ttlMs: 20, now: () => t })
      const last = new Map<number, { value: number; at: number }>()
      for (const [key, value, move] of steps) {
        t += move
        const got = cache.get(key)
        if (got !== undefined) {
          const l = last.get(key)!
          assert.equal(got, l.value)
          assert.ok(t < l.at + 20)
        }
        if (value % 2 === 0) {
          cache.set(key, value)
          last.set(key, { value, at: t })
        }
        assert.ok(cache.size <= 3)
      }
    }),
    { numRuns: 300 },
  )
})

test('ttl cache: an entry lives ttl from its set (or from asOf), not from its last read', () => {
  const clock = createFakeClock(0)
  const cache = createTTLCache<string, string>({ maxEntries: 10, ttlMs: 1000, now: clock.now })
  cache.set('a', 'A')
  clock.advance(999)
  assert.equal(cache.get('a'), 'A')
  clock.advance(1)
  assert.equal(cache.get('a'), undefined)
  // Read at 1000 before an await, set at 1400: it expires at 2000, not 2400.
  clock.set(1400)
  cache.set('b', 'B', 1000)
  clock.set(1999)
  assert.equal(cache.get('b'), 'B')
  clock.set(2000)
  assert.equal(cache.get('b'), undefined)
})

test('ttl cache: a full cache drops the entry set longest ago; setting a key again makes it the newest', () => {
  const clock = createFakeClock(0)
  const cache = createTTLCache<string, number>({ maxEntries: 3, ttlMs: Infinity, now: clock.now })
  cache.set('a', 1)
  cache.set('b', 2)
  cache.set('c', 3)
  cache.set('a', 4) // now the newest
  cache.set('d', 5) // pushes out b
  assert.equal(cache.get('b'), undefined)
  assert.deepEqual(
    ['a', 'c', 'd'].map((k) => cache.get(k)),
    [4, 3, 5],
  )
  assert.equal(cache.size, 3)
})

test('ttl cache: expired entries are dropped as the cache is used, so an idle cache shrinks', () => {
  const clock = createFakeClock(0)
  const cache = createTTLCache<number, number>({ maxEntries: 100, ttlMs: 10, now: clock.now })
  for (let i = 0; i < 50; i++) cache.set(i, i)
  clock.advance(10)
  for (let i = 0; i < 25; i++) cache.set(1000 + i, i)
  // Each set dropped two of the 50 expired ones: only the 25 new entries remain.
  assert.equal(cache.size, 25)
})

test('ttl cache: maxEntries 0 remembers nothing; clear and delete forget', () => {
  const clock = createFakeClock(0)
  const off = createTTLCache<string, number>({ maxEntries: 0, ttlMs: 1000, now: clock.now })
  off.set('a', 1)
  assert.equal(off.get('a'), undefined)
  assert.equal(off.size, 0)
  const cache = createTTLCache<string, number>({ maxEntries: 5, ttlMs: 1000, now: clock.now })
  cache.set('a', 1)
  cache.set('b', 2)
  cache.delete('a')
  assert.equal(cache.get('a'), undefined)
  assert.equal(cache.get('b'), 2)
  cache.clear()
  assert.equal(cache.size, 0)
})
