import assert from 'node:assert/strict'
import { test } from 'node:test'
import { NetworkError, isRefreshUnavailableError } from '../src/errors.js'
import { blockedBy, createRetryTimer, nextOutage } from '../src/outage.js'
import { createFakeTime } from './helpers/fake-time.js'

const NOW = 1_000_000
const cause = new NetworkError(new Request('https://api.test/'), new Error('down'))
const half = (): number => 0.5

test('outage: the first failure begins it, each next one counts an attempt and backs off longer', () => {
  const first = nextOutage(null, cause, undefined, NOW, half)
  assert.equal(first.first, true)
  assert.equal(first.outage.attempt, 0)
  assert.equal(first.delay, 750)
  assert.equal(first.outage.until, NOW + 750)
  assert.equal(first.seconds, 1)
  const second = nextOutage(first.outage, cause, undefined, NOW, half)
  assert.equal(second.first, false)
  assert.equal(second.outage.attempt, 1)
  assert.equal(second.delay, 1_500)
  assert.equal(second.seconds, 2)
  // Retry-After (plus 10 % jitter at 0.5) wins over a shorter exponential delay.
  const told = nextOutage(second.outage, cause, 5, NOW, half)
  assert.equal(told.delay, 5_500)
  assert.equal(told.seconds, 6)
  assert.equal(told.outage.cause, cause)
})

test('outage: a call is refused until the next attempt is due, with the seconds left', () => {
  const { outage } = nextOutage(null, cause, 5, NOW, half)
  assert.equal(blockedBy(null, NOW), null)
  const refused = blockedBy(outage, NOW + 2_000)
  assert.ok(isRefreshUnavailableError(refused))
  assert.equal(refused.retryAfter, 4)
  assert.equal(refused.cause, cause)
  assert.equal(blockedBy(outage, NOW + 5_499)?.retryAfter, 1)
  assert.equal(blockedBy(outage, NOW + 5_500), null)
})

test('outage: one retry pending at a time; a new schedule replaces it, cancel clears it', () => {
  const time = createFakeTime(NOW)
  const retry = createRetryTimer(time.timers)
  const ran: string[] = []
  retry.schedule(1_000, () => ran.push('first'))
  retry.schedule(2_000, () => ran.push('second'))
  assert.equal(retry.pending, true)
  assert.equal(time.pending(), 1)
  time.advance(2_000)
  assert.deepEqual(ran, ['second'])
  assert.equal(retry.pending, false)
  retry.schedule(1_000, () => ran.push('third'))
  retry.cancel()
  time.advance(5_000)
  assert.deepEqual(ran, ['second'])
  assert.equal(time.pending(), 0)
})

test('outage: for 13 s after its first failure the attempts come at most 2 s apart, then back off to 8 s', () => {
  const high = (): number => 0.999999
  let step = nextOutage(null, cause, undefined, NOW, high)
  const delays: number[] = [step.delay]
  let now = NOW
  while (now - NOW < 40_000) {
    now += step.delay
    step = nextOutage(step.outage, cause, undefined, now, high)
    delays.push(step.delay)
    assert.equal(step.outage.since, NOW)
  }
  let t = NOW
  for (const d of delays) {
    if (t - NOW < 13_000) assert.ok(d <= 2_000, `${d} ms at +${t - NOW}`)
    t += d
  }
  assert.equal(Math.max(...delays), 8_000)
})
