/**
 * When the session store could not answer this instance: spans of wall-clock time, from the start
 * of the first call that failed to the first call that succeeded after it. The guard records them;
 * a rotation passes them to the store so that SPEC §3's grace window does not run while nobody
 * could have used it (see {@link graceCredit}).
 *
 * Why: a rotation can commit while its answer is lost (a timeout, a killed instance, a failover).
 * The client still holds the previous token and retries; if the store then stays unreachable past
 * the 15 s grace window, the retry that finally gets through was answered `token_reused` and an
 * honest user was logged out (the chaos run found it). The window now counts only time in which
 * the store answered: the retry is still inside it.
 *
 * Spans are shared through the store where it outlives the process (Redis: `saveOutage`,
 * `loadOutages`): the retry may reach another instance, or this one restarted, after the outage
 * (the 30-minute chaos run of 2026-12-07 saw an instance killed during one, and its successor
 * answered the retry `token_reused`). The guard merges the shared spans with its own.
 */
export type OutageSpan = readonly [start: number, end: number]

/** Spans older than this are dropped: more credit than {@link MAX_GRACE_CREDIT_MS} is never given. */
export const KEEP_MS = 10 * 60_000
/** A bound on what is kept, however often the store flaps. */
const MAX_SPANS = 32
/**
 * The most a grace window is ever extended by outages. It bounds what a copied previous token can
 * gain from a long outage: at most this long past its window, and only while its successor has not
 * been used (then it is two generations old and reuse, as always).
 */
export const MAX_GRACE_CREDIT_MS = 5 * 60_000

const NONE: readonly OutageSpan[] = Object.freeze([])

export class OutageSpans {
  readonly #closed: [number, number][] = []
  /** Start of the outage under way, or null while the store answers. */
  #openSince: number | null = null
  /** {@link list}'s answer while no outage is under way and nothing changed: the same array. */
  #settled: readonly OutageSpan[] | null = null

  /** A call that started at `startedAt` failed. */
  failed(startedAt: number): void {
    if (this.#openSince === null || startedAt < this.#openSince) this.#openSince = startedAt
  }

  /** A call answered at `now`: an outage under way ends here, and is answered (else `null`). */
  succeeded(now: number): OutageSpan | null {
    if (this.#openSince === null) return null
    const span: [number, number] = [this.#openSince, Math.max(this.#openSince, now)]
    this.#closed.push(span)
    this.#openSince = null
    this.#settled = null
    if (this.#closed.length > MAX_SPANS) this.#closed.splice(0, this.#closed.length - MAX_SPANS)
    return span
  }

  /**
   * The spans that can still matter at `now`, oldest first; one under way ends at `now`. Every
   * refresh asks: while no outage is under way the answer is the same array until a span closes
   * or ages out (so a caller can cache what it derives from it), and a store that never failed
   * costs no allocation.
   */
  list(now: number): readonly OutageSpan[] {
    if (this.#closed.length === 0 && this.#openSince === null) return NONE
    while (this.#closed.length > 0 && (this.#closed[0] as [number, number])[1] < now - KEEP_MS) {
      this.#closed.shift()
      this.#settled = null
    }
    if (this.#openSince === null) return (this.#settled ??= [...this.#closed])
    return [...this.#closed, [this.#openSince, now]]
  }
}

/**
 * The union of two lists of spans, overlapping ones merged (so that no instant is credited twice),
 * the newest {@link MAX_SPANS} kept, oldest first. `b` empty answers `a` itself.
 */
export function unionSpans(a: readonly OutageSpan[], b: readonly OutageSpan[]): readonly OutageSpan[] {
  if (b.length === 0) return a
  const all = [...a, ...b].sort((x, y) => x[0] - y[0])
  const out: [number, number][] = []
  for (const [start, end] of all) {
    const last = out[out.length - 1]
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end)
    else out.push([start, end])
  }
  return out.length > MAX_SPANS ? out.slice(out.length - MAX_SPANS) : out
}

/** Parses {@link encodeSpans}'s form; anything malformed is skipped (it came from the store). */
export function decodeSpans(text: readonly string[]): OutageSpan[] {
  const out: OutageSpan[] = []
  for (const item of text) {
    const [s, e] = item.split(',').map(Number)
    if (Number.isSafeInteger(s) && Number.isSafeInteger(e) && (e as number) >= (s as number)) out.push([s as number, e as number])
  }
  return out
}

/**
 * How far past `graceUntil` the previous token is still answered: the time within
 * [rotatedAt, now] in which the store could not answer (rotatedAt = graceUntil - graceMs), capped
 * at {@link MAX_GRACE_CREDIT_MS}. The Redis rotation script computes the same sum in Lua.
 */
export function graceCredit(spans: readonly OutageSpan[] | undefined, graceUntil: number, graceMs: number, now: number): number {
  if (spans === undefined || spans.length === 0) return 0
  const from = graceUntil - graceMs
  let credit = 0
  for (const [start, end] of spans) {
    const overlap = Math.min(end, now) - Math.max(start, from)
    if (overlap > 0) credit += overlap
  }
  return Math.min(credit, MAX_GRACE_CREDIT_MS)
}

/** The spans as one script argument: `start,end;start,end` (integers, ms). */
export function encodeSpans(spans: readonly OutageSpan[] | undefined): string {
  if (spans === undefined) return ''
  return spans.map(([s, e]) => `${Math.floor(s)},${Math.ceil(e)}`).join(';')
}
