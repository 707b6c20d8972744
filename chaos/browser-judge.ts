/**
 * The browser lane's own judgement (browser.ts records, this decides): what real Chromium tabs
 * did with the refresh lock, with refreshes of one token, with a 401 that is not about the
 * token, and while the network was gone. Pure functions over plain records, so each check is
 * tested on made-up records (chaos/test/browser.test.ts) and can be seen to fail.
 */
import { MAX_BACKOFF_MS, backoffDelay } from '../packages/client/src/backoff.js'
import type { Invariant } from './oracle.js'

/** One `navigator.locks.request` event in a tab (the init script of browser-page.ts reports them). */
export interface LockRecord {
  tab: number
  /** Per tab: one request. */
  id: number
  name: string
  /** granted; released (the callback settled); not-granted (aborted before the grant); lost (stolen while held). */
  event: 'requested' | 'granted' | 'released' | 'not-granted' | 'lost'
  /** When the request was made (page clock = Date.now(), the same machine clock as Node). */
  requested: number
  at: number
  steal: boolean
}

/** One refresh request of a tab, as the lane's route saw it. */
export interface RefreshSpan {
  tab: number
  jti?: string
  /** The page sent it (the route got it) … */
  start: number
  /** … and the page got the answer, an abort, or the lane dropped it. */
  end: number
  outcome: 'answered' | 'lost' | 'offline' | 'failed'
  status?: number
  successor?: string
}

export interface Interval {
  start: number
  end: number
}

/** One `client.fetch('/api/chaos-401/')` call of a tab, and the 401s the route answered it. */
export interface Call401 {
  tab: number
  t0: number
  t1: number
  /** When the route answered a request of this tab to the 401 path. */
  answers: number[]
}

const overlaps = (a: Interval, b: Interval): boolean => a.start <= b.end && b.start <= a.end

/** The refresh lock's names (the client's `refreshLockName`). */
export const isRefreshLock = (name: string): boolean => name.startsWith('baton:refresh:')

export interface LockWait {
  tab: number
  name: string
  /** From the client's first request to the grant (or to `end`, still waiting). */
  waited: number
  requested: number
  granted: number | null
  /** Granted by a `steal: true` request after the first one gave up. */
  stolen: boolean
}

/**
 * Each lock acquisition of each tab, with its wait. The client's lock waits with an abort signal,
 * then requests again with `steal: true` (tab-lock.ts): that steal is chained to the request it
 * follows (same tab and name, made within `chainMs` of the abort), so the wait counts from the
 * first request. Requests a tab made while itself frozen are left out (its clock stood still);
 * one never granted counts until `end`.
 */
export function lockWaits(records: readonly LockRecord[], frozen: ReadonlyMap<number, Interval[]>, end: number, chainMs = 250): LockWait[] {
  const byRequest = new Map<string, { first: LockRecord; granted?: LockRecord; aborted?: LockRecord }>()
  const order: string[] = []
  for (const r of records) {
    if (!isRefreshLock(r.name)) continue
    const key = `${r.tab}:${r.id}`
    let entry = byRequest.get(key)
    if (entry === undefined) {
      entry = { first: r }
      byRequest.set(key, entry)
      order.push(key)
    }
    if (r.event === 'granted') entry.granted = r
    if (r.event === 'not-granted') entry.aborted = r
  }
  const chainedFrom = new Map<string, number>()
  const waits: LockWait[] = []
  for (const key of order) {
    const entry = byRequest.get(key) as { first: LockRecord; granted?: LockRecord; aborted?: LockRecord }
    const { tab, name, steal } = entry.first
    let start = chainedFrom.get(key) ?? entry.first.requested
    if (entry.aborted !== undefined && entry.granted === undefined) {
      // Find the steal that follows this abort: its wait starts here.
      const next = order.find((k) => {
        const e = byRequest.get(k)?.first
        return (
          e !== undefined &&
          e.tab === tab &&
          e.name === name &&
          e.steal &&
          e.requested >= (entry.aborted as LockRecord).at - 5 &&
          e.requested - (entry.aborted as LockRecord).at <= chainMs
        )
      })
      if (next !== undefined && !chainedFrom.has(next)) {
        chainedFrom.set(next, start)
        continue
      }
      // An abort with no steal after it (the caller's own signal): no acquisition to judge.
      continue
    }
    const granted = entry.granted?.at ?? null
    const until = granted ?? end
    const own = frozen.get(tab) ?? []
    if (own.some((f) => overlaps(f, { start, end: until }))) continue
    start = Math.min(start, until)
    waits.push({ tab, name, waited: until - start, requested: start, granted, stolen: steal && granted !== null })
  }
  return waits
}

/** Two tabs refreshing one token at the same time, neither frozen nor robbed of the lock then. */
export function concurrentRefreshes(spans: readonly RefreshSpan[], exempt: ReadonlyMap<number, Interval[]>): [RefreshSpan, RefreshSpan][] {
  const free = spans.filter((s) => s.jti !== undefined && s.outcome !== 'offline' && !(exempt.get(s.tab) ?? []).some((e) => overlaps(e, s)))
  const pairs: [RefreshSpan, RefreshSpan][] = []
  for (let i = 0; i < free.length; i++)
    for (let j = i + 1; j < free.length; j++) {
      const a = free[i] as RefreshSpan
      const b = free[j] as RefreshSpan
      if (a.tab !== b.tab && a.jti === b.jti && overlaps(a, b)) pairs.push([a, b])
    }
  return pairs
}

/**
 * Per 401 call: the refreshes its tab sent after the call's first 401 and before the call
 * ended, and how many 401s it got. The client refreshes once and retries once (SPEC §6), so
 * at most 1 and 2; a refresh before the first 401 (the token had expired) is not the 401's.
 */
export function refreshesPer401(
  calls: readonly Call401[],
  spans: readonly RefreshSpan[],
): { call: Call401; refreshes: number; answers: number }[] {
  return calls.map((call) => {
    const first = Math.min(...call.answers)
    const refreshes = Number.isFinite(first) ? spans.filter((s) => s.tab === call.tab && s.start >= first && s.start <= call.t1).length : 0
    return { call, refreshes, answers: call.answers.length }
  })
}

/**
 * The most refresh attempts one tab can make in `ms` while every one fails: the client's backoff
 * (backoff.ts: exponential from 1 s with equal jitter, at most 2 s apart for the outage's first
 * 13 s, then at most 8 s) never waits less than half of each step; plus one for an attempt a
 * call and the retry timer start together.
 */
export function dropAttemptBound(ms: number): number {
  // The client's own shortest delays (random 0): 2 s apart at most in the grace window, then up to 8 s.
  let attempts = 1
  let t = 0
  for (let k = 0; ; k++) {
    t += backoffDelay({ attempt: k, sinceMs: t, random: () => 0 })
    if (t > ms) break
    attempts++
  }
  return attempts + 1
}

/** The longest a degraded tab may go without an attempt: the backoff's cap, plus timers' slack. */
export const DROP_GAP_BOUND_MS = MAX_BACKOFF_MS + 2_000

export interface DropTab {
  tab: number
  attempts: number
  /** The longest time between two attempts inside the drop (or the last one and the drop's end). */
  maxGap: number
}

/** Each tab's refresh attempts during the drop. */
export function dropAttempts(
  spans: readonly RefreshSpan[],
  drop: Interval,
  tabs: number,
  frozen: ReadonlyMap<number, Interval[]>,
): DropTab[] {
  const out: DropTab[] = []
  for (let tab = 0; tab < tabs; tab++) {
    const times = spans
      .filter((s) => s.tab === tab && s.start >= drop.start && s.start <= drop.end)
      .map((s) => s.start)
      .sort((a, b) => a - b)
    let maxGap = 0
    for (let i = 1; i < times.length; i++) maxGap = Math.max(maxGap, (times[i] as number) - (times[i - 1] as number))
    if (times.length > 0) maxGap = Math.max(maxGap, drop.end - (times.at(-1) as number))
    // A tab frozen during the drop could not try; its gap says nothing about the backoff.
    if ((frozen.get(tab) ?? []).some((f) => overlaps(f, drop))) maxGap = 0
    out.push({ tab, attempts: times.length, maxGap })
  }
  return out
}

export interface LaneJudgeInput {
  actors: string[]
  locks: LockRecord[]
  spans: RefreshSpan[]
  calls401: Call401[]
  frozen: Map<number, Interval[]>
  drop: Interval | null
  /** The faults' windows: a 401 call overlapping one is counted apart (another cause may refresh). */
  faultWindows: Interval[]
  timeoutMs: number
  slackMs: number
  marginMs: number
  end: number
}

export interface LaneFigures {
  lockAcquisitions: number
  maxLockWaitMs: number
  lockWaitBoundMs: number
  steals: number
  calls401: number
  calls401Apart: number
  maxRefreshesPer401Call: number
  max401sPerCall: number
  dropMs: number
  dropAttemptsPerTab: Record<string, number>
  dropAttemptBound: number
  maxDropGapMs: number
  concurrentPairs: number
}

const EXCERPT = 6

function invariant(name: string, bad: string[], summary: string): Invariant {
  return { name, pass: bad.length === 0, summary, excerpt: bad.slice(0, EXCERPT) }
}

/** The lane's four invariants and its figures. */
export function judgeLane(input: LaneJudgeInput): { invariants: Invariant[]; figures: LaneFigures } {
  const actor = (tab: number): string => input.actors[tab] ?? `tab${tab}`
  const bound = input.timeoutMs + input.slackMs + input.marginMs
  const waits = lockWaits(input.locks, input.frozen, input.end)
  const maxWait = Math.max(0, ...waits.map((w) => w.waited))
  const late = waits
    .filter((w) => w.waited > bound)
    .map(
      (w) =>
        `${actor(w.tab)} waited ${w.waited} ms for ${w.name} from ${w.requested} (${w.granted === null ? 'never granted' : w.stolen ? 'then stole it' : 'granted'})`,
    )

  // A tab's span is exempt while it is frozen, and around the moment its lock was stolen.
  const exempt = new Map<number, Interval[]>()
  for (const [tab, list] of input.frozen) exempt.set(tab, [...list])
  for (const r of input.locks)
    if (r.event === 'lost' && isRefreshLock(r.name))
      exempt.set(r.tab, [...(exempt.get(r.tab) ?? []), { start: r.requested, end: r.at + 1_000 }])
  const pairs = concurrentRefreshes(input.spans, exempt)
  const concurrent = pairs.map(([a, b]) => `jti ${a.jti}: ${actor(a.tab)} ${a.start}..${a.end} and ${actor(b.tab)} ${b.start}..${b.end}`)

  const apart = (c: Call401): boolean => input.faultWindows.some((f) => overlaps(f, { start: c.t0, end: c.t1 }))
  const counted = refreshesPer401(
    input.calls401.filter((c) => !apart(c)),
    input.spans,
  )
  const looping = counted
    .filter((c) => c.refreshes > 1 || c.answers > 2)
    .map((c) => `${actor(c.call.tab)} call ${c.call.t0}..${c.call.t1}: ${c.refreshes} refreshes after the first 401, ${c.answers} 401s`)

  const dropTabs = input.drop === null ? [] : dropAttempts(input.spans, input.drop, input.actors.length, input.frozen)
  const dropMs = input.drop === null ? 0 : input.drop.end - input.drop.start
  const attemptBound = dropAttemptBound(dropMs)
  const storm = dropTabs
    .filter((d) => d.attempts > attemptBound || d.maxGap > DROP_GAP_BOUND_MS)
    .map(
      (d) =>
        `${actor(d.tab)}: ${d.attempts} refresh attempts in the ${dropMs} ms drop (bound ${attemptBound}), longest gap ${d.maxGap} ms (bound ${DROP_GAP_BOUND_MS})`,
    )

  const figures: LaneFigures = {
    lockAcquisitions: waits.length,
    maxLockWaitMs: maxWait,
    lockWaitBoundMs: bound,
    steals: waits.filter((w) => w.stolen).length,
    calls401: counted.length,
    calls401Apart: input.calls401.length - counted.length,
    maxRefreshesPer401Call: Math.max(0, ...counted.map((c) => c.refreshes)),
    max401sPerCall: Math.max(0, ...counted.map((c) => c.answers)),
    dropMs,
    dropAttemptsPerTab: Object.fromEntries(dropTabs.map((d) => [actor(d.tab), d.attempts])),
    dropAttemptBound: attemptBound,
    maxDropGapMs: Math.max(0, ...dropTabs.map((d) => d.maxGap)),
    concurrentPairs: pairs.length,
  }
  const invariants = [
    invariant(
      'browser: a tab waits for the refresh lock at most timeout + 2 s',
      late,
      `${waits.length} acquisitions, longest wait ${maxWait} ms (bound ${input.timeoutMs} + ${input.slackMs} + margin ${input.marginMs}), ${figures.steals} stolen`,
    ),
    invariant(
      'browser: no two unfrozen tabs refresh one token at once',
      concurrent,
      `${input.spans.filter((s) => s.outcome !== 'offline').length} refreshes, ${pairs.length} concurrent pairs`,
    ),
    invariant(
      'browser: a 401 not about the token costs at most one refresh',
      looping,
      `${counted.length} calls (${figures.calls401Apart} during a fault, apart), at most ${figures.maxRefreshesPer401Call} refresh and ${figures.max401sPerCall} 401s per call`,
    ),
    invariant(
      'browser: refresh attempts during the network drop bounded',
      storm,
      input.drop === null
        ? 'no network drop in this run'
        : `${dropMs} ms drop: attempts per tab ${dropTabs.map((d) => d.attempts).join('/')} (bound ${attemptBound}), longest gap ${figures.maxDropGapMs} ms`,
    ),
  ]
  return { invariants, figures }
}
