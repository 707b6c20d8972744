/**
 * The browser lane's judgement on made-up records: a clean lane passes, and each thing it looks
 * for (a lock wait past timeout + 2 s, two tabs refreshing one token at once, a 401 that loops,
 * a retry storm while offline) makes its invariant fail, so none of them is a check that cannot.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  dropAttemptBound,
  judgeLane,
  lockWaits,
  type Call401,
  type Interval,
  type LaneJudgeInput,
  type LockRecord,
  type RefreshSpan,
} from '../browser-judge.js'
import { planLaneFaults } from '../browser-plan.js'
import { mulberry32 } from '../random.js'

const NAME = 'baton:refresh:http://127.0.0.1:1/'

function lock(tab: number, id: number, event: LockRecord['event'], requested: number, at: number, steal = false): LockRecord {
  return { tab, id, name: NAME, event, requested, at, steal }
}

function input(extra: Partial<LaneJudgeInput> = {}): LaneJudgeInput {
  return {
    actors: ['ub/t0', 'ub/t1', 'ub/t2'],
    locks: [lock(0, 1, 'requested', 1000, 1000), lock(0, 1, 'granted', 1000, 1002), lock(0, 1, 'released', 1000, 1050)],
    spans: [{ tab: 0, jti: 'a', start: 1003, end: 1049, outcome: 'answered', status: 200, successor: 'b' }],
    calls401: [],
    frozen: new Map(),
    drop: null,
    faultWindows: [],
    timeoutMs: 10_000,
    slackMs: 2_000,
    marginMs: 2_000,
    end: 100_000,
    ...extra,
  }
}

const failed = (i: LaneJudgeInput): string[] =>
  judgeLane(i)
    .invariants.filter((x) => !x.pass)
    .map((x) => x.name)

test('a clean lane passes every invariant', () => {
  assert.deepEqual(failed(input()), [])
})

test('a steal after an abort is one wait, counted from the first request', () => {
  const records = [
    lock(1, 1, 'requested', 1000, 1000),
    lock(1, 1, 'not-granted', 1000, 13_000),
    lock(1, 2, 'requested', 13_001, 13_001, true),
    lock(1, 2, 'granted', 13_001, 13_010, true),
  ]
  const waits = lockWaits(records, new Map(), 100_000)
  assert.equal(waits.length, 1)
  assert.equal(waits[0]?.waited, 12_010)
  assert.equal(waits[0]?.stolen, true)
  assert.deepEqual(failed(input({ locks: records })), [])
})

test('a wait past timeout + 2 s + margin fails, and so does one never granted', () => {
  const late = [lock(1, 1, 'requested', 1000, 1000), lock(1, 1, 'granted', 1000, 16_000)]
  assert.deepEqual(failed(input({ locks: late })), ['browser: a tab waits for the refresh lock at most timeout + 2 s'])
  const never = [lock(2, 1, 'requested', 1000, 1000)]
  const verdict = judgeLane(input({ locks: never, end: 40_000 }))
  assert.equal(verdict.figures.maxLockWaitMs, 39_000)
  assert.match(verdict.invariants[0]?.excerpt[0] ?? '', /ub\/t2 waited 39000 ms .*never granted/)
})

test("a tab's own wait while it was frozen is not judged", () => {
  const records = [lock(0, 1, 'requested', 1000, 1000), lock(0, 1, 'granted', 1000, 30_000)]
  const frozen = new Map<number, Interval[]>([[0, [{ start: 2000, end: 25_000 }]]])
  assert.deepEqual(failed(input({ locks: records, frozen })), [])
})

test('two unfrozen tabs refreshing one token at once fail; a frozen holder or a robbed one is exempt', () => {
  const spans: RefreshSpan[] = [
    { tab: 0, jti: 'a', start: 1000, end: 1100, outcome: 'answered', status: 200 },
    { tab: 1, jti: 'a', start: 1050, end: 1150, outcome: 'answered', status: 200 },
  ]
  assert.deepEqual(failed(input({ spans })), ['browser: no two unfrozen tabs refresh one token at once'])
  assert.deepEqual(failed(input({ spans, frozen: new Map([[0, [{ start: 900, end: 1200 }]]]) })), [])
  const robbed = [lock(0, 7, 'requested', 990, 990), lock(0, 7, 'granted', 990, 995), lock(0, 7, 'lost', 990, 1060)]
  assert.deepEqual(failed(input({ spans, locks: robbed })), [])
  // One after the other (the lock's order) is fine, and so is one tab alone.
  const serial: RefreshSpan[] = [spans[0] as RefreshSpan, { ...(spans[1] as RefreshSpan), start: 1101 }]
  assert.deepEqual(failed(input({ spans: serial })), [])
})

test('a 401 not about the token: one refresh after the first 401 passes, two or a third 401 fail', () => {
  const call: Call401 = { tab: 0, t0: 5000, t1: 5300, answers: [5010, 5200] }
  // A refresh before the first 401 (the token had expired) is not the 401's.
  const spans: RefreshSpan[] = [
    { tab: 0, jti: 'a', start: 5001, end: 5008, outcome: 'answered' },
    { tab: 0, jti: 'b', start: 5020, end: 5100, outcome: 'answered' },
  ]
  assert.deepEqual(failed(input({ calls401: [call], spans })), [])
  const twice = [...spans, { tab: 0, jti: 'c', start: 5210, end: 5250, outcome: 'answered' as const }]
  assert.deepEqual(failed(input({ calls401: [call], spans: twice })), ['browser: a 401 not about the token costs at most one refresh'])
  assert.deepEqual(failed(input({ calls401: [{ ...call, answers: [5010, 5100, 5200] }], spans })), [
    'browser: a 401 not about the token costs at most one refresh',
  ])
  // Another tab's refresh does not count, and a call during a fault is counted apart.
  assert.deepEqual(failed(input({ calls401: [call], spans: twice.map((s, i) => (i === 2 ? { ...s, tab: 1 } : s)) })), [])
  assert.deepEqual(failed(input({ calls401: [call], spans: twice, faultWindows: [{ start: 4000, end: 6000 }] })), [])
})

test('refresh attempts during a drop: the backoff passes, a storm or a tab that stops trying fails', () => {
  const drop = { start: 10_000, end: 40_000 }
  // The client's backoff floor: 0.5 s, then 1 s apart for the first 13 s, then 4 s.
  const bound = dropAttemptBound(30_000)
  assert.equal(bound, 20)
  const backoff = [0, 1000, 3000, 7000, 13_000, 20_000, 27_000, 34_000].map((t): RefreshSpan => ({
    tab: 0,
    jti: 'a',
    start: drop.start + t,
    end: drop.start + t + 1,
    outcome: 'offline',
  }))
  assert.deepEqual(failed(input({ drop, spans: backoff })), [])
  const storm = Array.from({ length: 40 }, (_, i): RefreshSpan => ({
    tab: 1,
    jti: 'a',
    start: drop.start + i * 700,
    end: drop.start + i * 700,
    outcome: 'offline',
  }))
  assert.deepEqual(failed(input({ drop, spans: storm })), ['browser: refresh attempts during the network drop bounded'])
  const gaveUp = backoff.slice(0, 3)
  assert.deepEqual(failed(input({ drop, spans: gaveUp })), ['browser: refresh attempts during the network drop bounded'])
})

test('the fault schedule is seeded, ordered, and fits before the quiet tail', () => {
  const a = planLaneFaults(mulberry32(5), 120_000)
  assert.deepEqual(a, planLaneFaults(mulberry32(5), 120_000))
  assert.equal(a.length, 3)
  assert.deepEqual([...a.map((f) => f.kind)].sort(), ['frozen-holder', 'lost-refresh-response', 'network-drop'])
  for (let i = 1; i < a.length; i++) assert.ok((a[i]?.at ?? 0) > (a[i - 1]?.at ?? 0))
  const drop = a.find((f) => f.kind === 'network-drop')
  assert.equal(drop?.duration, 30_000)
  const freeze = a.find((f) => f.kind === 'frozen-holder')
  assert.ok((freeze?.duration ?? 0) >= 15_000 && (freeze?.duration ?? 0) < 30_000)
  // A short run keeps only what fits; a long one repeats every kind.
  assert.ok(planLaneFaults(mulberry32(5), 30_000).length < 3)
  const long = planLaneFaults(mulberry32(5), 30 * 60_000)
  for (const kind of ['frozen-holder', 'lost-refresh-response', 'network-drop'])
    assert.ok(long.filter((f) => f.kind === kind).length >= 5, `${kind} repeats in 30 minutes`)
  assert.ok((long.at(-1)?.at ?? Infinity) < 30 * 60_000 - 12_000)
})
