import type { Clock } from '../../src/clock.js'

/** A clock that moves only when a test says so. */
export interface FakeClock {
  now: Clock
  advance(ms: number): void
  set(ms: number): void
}

export function createFakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let t = start
  return {
    now: () => t,
    advance(ms) {
      t += ms
    },
    set(ms) {
      t = ms
    },
  }
}
