import type { SessionStore } from './types.js'

/** Development-only outage switch in front of a session store (README "Demo page"). */
export interface StoreFaultSwitch {
  /** Whether every store call currently fails. */
  readonly down: () => boolean
  /** Breaks (`true`) or heals (`false`) the store. */
  readonly set: (down: boolean) => void
}

/** What a broken store call rejects with; the guard turns it into a StoreUnavailableError. */
export class InjectedStoreFault extends Error {
  constructor(operation: string) {
    super(`${operation}: the store was switched off from the demo page (development fault injection)`)
    this.name = 'InjectedStoreFault'
  }
}

/**
 * Wraps the store the guard guards (not the guard itself), so that the guard stays the one owner
 * of health: while the switch is down every call, the guard's probe ping included, rejects at once
 * as a Redis without its connection does (no offline queue, SPEC §4), and the guard reacts as it
 * does to a real outage — store_error lines, the circuit opening, 503s with Retry-After, readyz
 * down — and closes the circuit by itself once the switch is healed. `close` is never broken, so
 * shutdown works during an injected outage.
 */
export function withFaultSwitch(store: SessionStore): { store: SessionStore; fault: StoreFaultSwitch } {
  let down = false
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function' || property === 'close' || typeof property !== 'string') return value
      const method = value as (...args: unknown[]) => unknown
      return (...args: unknown[]) => (down ? Promise.reject(new InjectedStoreFault(property)) : method.apply(target, args))
    },
  })
  return { store: wrapped, fault: { down: () => down, set: (value) => void (down = value) } }
}
