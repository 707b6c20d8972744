/**
 * The browser lane's plain parts, apart from Chromium: its seeded fault schedule and how a routed
 * request becomes a history record (recordingFetch's way: ids and outcomes, never a token).
 */
import { claimsOf, type CallKind, type Exchange, type Happening, type History } from './history.js'
import type { Invariant } from './oracle.js'
import type { Random } from './random.js'

export type LaneFaultKind = 'frozen-holder' | 'lost-refresh-response' | 'network-drop'

/**
 * The seeded fault schedule: the three faults in a random order, each after a gap, then again in
 * another order while they fit (a long run repeats them), all before the quiet tail.
 */
export function planLaneFaults(random: Random, runMs: number): { kind: LaneFaultKind; at: number; duration: number }[] {
  const plan: { kind: LaneFaultKind; at: number; duration: number }[] = []
  let at = random.range(5_000, 8_000)
  for (let round = 0; round < 1000; round++) {
    const kinds: LaneFaultKind[] = ['frozen-holder', 'lost-refresh-response', 'network-drop']
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = random.int(0, i)
      ;[kinds[i], kinds[j]] = [kinds[j] as LaneFaultKind, kinds[i] as LaneFaultKind]
    }
    const before = plan.length
    for (const kind of kinds) {
      const duration = kind === 'frozen-holder' ? random.range(15_000, 30_000) : kind === 'network-drop' ? Math.min(60_000, runMs / 4) : 0
      // A freeze and a lost answer first wait for a refresh to catch (at most 15 s).
      const room = duration + (kind === 'network-drop' ? 0 : 15_000)
      if (at + room > runMs - 12_000) continue
      plan.push({ kind, at, duration })
      at += room + random.range(4_000, 10_000)
    }
    if (plan.length === before) break
  }
  return plan
}

/** recordingFetch's classification, for the paths a tab calls. */
export function kindOf(path: string): CallKind {
  if (path.startsWith('/api/auth/token') || path.startsWith('/api/auth/login')) return 'login'
  if (path.startsWith('/api/auth/refresh')) return 'refresh'
  if (path.startsWith('/api/auth/logout')) return 'logout'
  if (path.startsWith('/api/me')) return 'me'
  return 'other'
}

/** The presented refresh token's ids (never the token). */
export function refreshClaims(body: string | null): { jti?: string; sid?: string; gen?: number } {
  if (body === null) return {}
  try {
    return claimsOf((JSON.parse(body) as { refresh?: unknown }).refresh)
  } catch {
    return {}
  }
}

/** The answer's code and successor, as recordingFetch takes them. */
export function answerClaims(record: Exchange, body: Buffer): void {
  try {
    const data = JSON.parse(body.toString('utf8')) as { code?: unknown; refresh?: unknown }
    if (typeof data.code === 'string') record.code = data.code
    const next = claimsOf(data.refresh)
    if (next.jti !== undefined) record.successor = next.jti
    if (next.sid !== undefined) record.successorSid = next.sid
  } catch {
    // not JSON: the status says enough
  }
}

/** The lane's counts over the run (BrowserLaneResult's figures beside the judge's). */
export interface LaneCounts {
  requests: number
  refreshes: number
  sessionExpired: number
  tokenReused: number
  degraded: number
  recovered: number
  hung: number
  /** The lost answer's token: how its retry was answered (same successor, or not). */
  lostRetry: string | null
}

/** What the lane's own tabs did over the run, and whether the lost answer's retry got the same successor. */
export function laneOutcome(
  history: History,
  actors: readonly string[],
  lostJti: string | undefined,
): { invariant: Invariant; figures: LaneCounts } {
  const mine = new Set(actors)
  const ours = history.exchanges.filter((e) => mine.has(e.actor))
  const happened = (what: Happening['what']): number => history.happenings.filter((h) => mine.has(h.actor) && h.what === what).length
  const retry = lostJti === undefined ? undefined : ours.filter((e) => e.kind === 'refresh' && e.jti === lostJti)
  const lostRetry =
    retry === undefined
      ? null
      : retry.map((e) => `${e.actor} ${e.status ?? e.error}${e.code ? ` ${e.code}` : ''} → ${e.successor ?? '-'} at ${e.t0}`).join(' | ')
  const successors = new Set(retry?.filter((e) => e.status === 200).map((e) => e.successor))
  const invariant: Invariant = {
    name: 'browser: a refresh answer lost after rotation is retried into the same successor',
    pass: retry === undefined || (retry.length >= 2 && successors.size === 1 && retry.every((e) => e.code !== 'token_reused')),
    summary:
      retry === undefined ? 'no answer was lost in this run' : `${retry.length} refreshes of ${lostJti}: ${successors.size} successor(s)`,
    excerpt: retry === undefined || successors.size === 1 ? [] : [lostRetry ?? ''],
  }
  return {
    invariant,
    figures: {
      requests: ours.length,
      refreshes: ours.filter((e) => e.kind === 'refresh').length,
      sessionExpired: happened('session-expired'),
      tokenReused: ours.filter((e) => e.code === 'token_reused').length,
      degraded: happened('degraded'),
      recovered: happened('recovered'),
      hung: happened('hung'),
      lostRetry,
    },
  }
}
