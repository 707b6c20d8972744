import type { Timers } from '../../src/options.js'

/** A clock and timers that move only when the test says so. */
export interface FakeTime {
  now: () => number
  timers: Timers
  /** Moves the clock forward, firing due timers in order (each at its own time). */
  advance(ms: number): void
  /** Delays of the timers scheduled so far, in scheduling order (cancelled ones included). */
  readonly scheduled: number[]
  /** How many timers are pending. */
  pending(): number
}

interface Timer {
  id: number
  at: number
  callback: () => void
}

export function createFakeTime(start = Date.UTC(2026, 0, 1)): FakeTime {
  let t = start
  let nextId = 1
  const timers = new Map<number, Timer>()
  const scheduled: number[] = []
  return {
    now: () => t,
    scheduled,
    timers: {
      setTimeout(callback, ms) {
        const id = nextId++
        scheduled.push(ms)
        timers.set(id, { id, at: t + ms, callback })
        return id
      },
      clearTimeout(handle) {
        timers.delete(handle as number)
      },
    },
    advance(ms) {
      const end = t + ms
      for (;;) {
        const due = [...timers.values()].filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0]
        if (due === undefined) break
        timers.delete(due.id)
        t = Math.max(t, due.at)
        due.callback()
      }
      t = end
    },
    pending: () => timers.size,
  }
}
