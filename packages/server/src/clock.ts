/** Milliseconds since the epoch. Injected everywhere time matters, so tests never sleep. */
export type Clock = () => number

/** The real wall clock. */
export const systemClock: Clock = () => Date.now()
