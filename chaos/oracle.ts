/**
 * The oracle: judges the whole history after the run. Each invariant is pass/fail with a
 * count and, when it fails, the smallest excerpt that shows it (which actor, which jtis, which
 * answers). Explained exceptions (killed instance, attacked family, data a fault destroyed)
 * are counted apart, each with its reason.
 */
import type { Exchange, FaultRecord, Happening, History } from './history.js'
import type { Revoked } from './users.js'

export interface Invariant {
  name: string
  pass: boolean
  /** One line: what was counted. */
  summary: string
  /** When it fails: up to a few excerpt lines. */
  excerpt: string[]
}

export interface OracleInput {
  history: History
  revoked: Revoked[]
  revokedProbes: { index: number; t: number; status: number | null; code?: string; after: string }[]
  attacked: Map<string, number>
  recovery: Map<FaultRecord, number | null>
  storeTimeoutMs: number
  marginMs: number
  recoveryBoundMs: number
  keys: { total: number; withoutTTL: string[] }
  memory: { batonRssMax: number; redisUsedMax: number; batonBound: number; redisBound: number; batonFdsMax: number; batonFdsBound: number }
  /**
   * Sessions whose revocation baton itself reported unconfirmed by any replica
   * (`revoke_unreplicated`): a failover may bring those back, the window README "Redis in
   * production" documents. Any other revocation undone is a violation.
   */
  unreplicated?: ReadonlySet<string>
}

export interface Explained {
  killedInstance: number
  attacked: number
  faultDestroyed: { actor: string; sid?: string; why: string }[]
  ownAction: number
  /** Revocations undone by a failover after baton logged them unconfirmed (named windows). */
  unreplicatedUndone: string[]
  /** Tokens answered a second successor after a fault destroyed the rotation to the first. */
  forksAfterLoss: string[]
  /** Lost answers whose retry found the rotation or the session destroyed by a fault between. */
  lostAfterLoss: string[]
}

export interface Verdict {
  invariants: Invariant[]
  explained: Explained
}

const STORE_KINDS = new Set(['login', 'refresh', 'logout', 'logout-all', 'revoke', 'sessions'])
const honest = (actor: string): boolean => actor.startsWith('u')
/** The browser lane's actors (browser.ts: `ub/t0`, …). */
const BROWSER_ACTORS = 'ub/'
const EXCERPT = 6

export function show(e: Exchange): string {
  const ids = [e.jti && `jti=${e.jti}`, e.gen !== undefined && `gen=${e.gen}`, e.sid && `sid=${e.sid}`, e.successor && `→ ${e.successor}`]
    .filter(Boolean)
    .join(' ')
  return `#${e.id} ${e.actor} ${e.kind} baton-${e.inst + 1} t=${e.t0}+${e.t1 - e.t0}ms ${e.status ?? e.error ?? 'no answer'}${e.code ? ` ${e.code}` : ''} ${ids}`.trim()
}

function invariant(name: string, bad: string[], summary: string): Invariant {
  return { name, pass: bad.length === 0, summary, excerpt: bad.slice(0, EXCERPT) }
}

function downAt(history: History, e: Exchange): boolean {
  return history.downtime.some((d) => d.inst === e.inst && e.t1 >= d.start - 50 && e.t0 <= d.end)
}

const userOf = (actor: string): string => actor.split('/')[0] as string
/** The server's grace window (REFRESH_GRACE_SECONDS; the run uses the default). */
const GRACE_MS = 15_000

/**
 * A reuse answer the client's own network explains: the answer of this token's rotation was lost
 * (client-faults.ts, browser.ts) or never came, and no refresh of that user reached baton again
 * within the grace window (its network was down). The successor is gone with the lost answer, as
 * data is with a restart without persistence: counted apart, never as an honest reuse.
 */
function lostThenCut(history: History, e: Exchange): Exchange | undefined {
  if (e.code !== 'token_reused' || e.jti === undefined) return undefined
  const user = userOf(e.actor)
  // Its answer lost on the way (a fault of the client's), or never sent (the instance died
  // after the rotation committed, a timeout): either way a rotation the client never heard of.
  const lost = history.exchanges.find(
    (l) =>
      l.jti === e.jti &&
      userOf(l.actor) === user &&
      l.t1 <= e.t0 &&
      (l.lost === true || (l.status === null && l.error !== 'offline' && l.error !== 'refused')),
  )
  // Inside the grace window the server must answer the same successor: nothing explains reuse.
  if (lost === undefined || e.t0 < lost.t0 + GRACE_MS) return undefined
  const reached = history.exchanges.some(
    (x) =>
      x.kind === 'refresh' && userOf(x.actor) === user && x.status !== null && x.t0 > lost.t1 && x.t0 < Math.min(e.t0, lost.t1 + GRACE_MS),
  )
  return reached ? undefined : lost
}

/** Whether `user` (`u12`) logged out, or logged out everywhere, or revoked `sid`, between `from` and `to`. */
function endedByUser(history: History, user: string, sid: string | undefined, from: number, to: number): boolean {
  return history.happenings.some(
    (a) =>
      userOf(a.actor) === user &&
      a.t >= from - 1_000 &&
      a.t <= to + 1_000 &&
      (a.what === 'logout-all-called' || a.what === 'logout-called' || (a.what === 'revoke-called' && a.target === sid)),
  )
}

/** Why a session ended, or null when nothing explains it. */
function explainExpiry(
  input: OracleInput,
  h: Happening,
  firstWrite: Map<string, number>,
  lastWrite: Map<string, number[]>,
  cutOff: readonly Exchange[],
): string | null {
  const { history } = input
  if (h.sid !== undefined && input.attacked.has(h.sid)) return 'attacked'
  // The action's time is when it was answered (users.ts records it then).
  const own = history.happenings.find(
    (a) =>
      a.user === h.user &&
      a.t <= h.t + 1000 &&
      (a.what === 'logout-all-called' || (a.what === 'revoke-called' && a.target === h.sid)) &&
      // …and the session that ended existed when the action was taken.
      !history.happenings.some((l) => l.user === h.user && l.what === 'logged-in' && l.sid === h.sid && l.t > a.t),
  )
  if (own !== undefined) return 'own action'
  // The reuse answer that ended it came after its rotation's answer was lost and the network cut.
  const cut = cutOff.find((e) => e.sid === h.sid && userOf(e.actor) === userOf(h.actor) && e.t0 <= h.t)
  if (cut !== undefined)
    return `the answer of ${cut.jti}'s rotation was lost and no refresh reached baton within the grace window (the client's network)`
  if (h.detail !== 'token_not_valid' || h.sid === undefined) return null
  const created = firstWrite.get(h.sid) ?? 0
  const writes = (lastWrite.get(h.sid) ?? []).filter((t) => t <= h.t)
  for (const f of history.faults) {
    if (!f.destroysData || f.start > h.t) continue
    // A primary restarted empty before any failover (or a Cluster shard measured empty): gone.
    const wiped = f.wiped ?? (f.kind === 'redis-kill' && !f.failedOver)
    if (wiped && created <= f.end + 15_000) return `${f.kind} at ${f.start} wiped ${f.target} (no persistence)`
    // A failover (or a restarted node written to before Sentinel demoted it) loses the last writes.
    if (writes.some((w) => w >= f.start - 5_000 && w <= f.end + 15_000))
      return `${f.kind}${f.failedOver ? ' (failed over)' : ''} at ${f.start} lost this session's last write`
  }
  return null
}

export function judge(input: OracleInput): Verdict {
  const { history } = input
  const ex = history.exchanges
  const explained: Explained = {
    killedInstance: 0,
    attacked: 0,
    faultDestroyed: [],
    ownAction: 0,
    unreplicatedUndone: [],
    forksAfterLoss: [],
    lostAfterLoss: [],
  }

  const fivexx = ex.filter((e) => e.status !== null && e.status >= 500 && e.status !== 503)
  // What an honest client may be answered: success, 401 (a session ended), 503 (an outage); a
  // revocation of a session already gone is 404. Anything else is a bug on one side.
  const odd = ex.filter(
    (e) =>
      honest(e.actor) &&
      e.status !== null &&
      e.status >= 300 &&
      e.status < 500 &&
      e.status !== 401 &&
      !(e.status === 404 && e.kind === 'revoke'),
  )

  const slow: string[] = []
  for (const e of ex) {
    const late = e.t1 - e.t0 > input.storeTimeoutMs + input.marginMs
    // A request the client's own network refused to send (client-faults.ts) never reached baton.
    if (e.error === 'offline') continue
    if (!(e.status === null || (late && STORE_KINDS.has(e.kind)))) continue
    if (downAt(history, e)) explained.killedInstance++
    else slow.push(show(e))
  }

  const hung = history.happenings.filter((h) => h.what === 'hung').map((h) => `${h.actor} ${h.detail} pending past the bound at ${h.t}`)

  // Every session's successful writes (login, rotation), for the "data destroyed" explanation.
  const firstWrite = new Map<string, number>()
  const writes = new Map<string, number[]>()
  for (const e of ex) {
    if (e.status !== 200 || e.successorSid === undefined) continue
    if (!firstWrite.has(e.successorSid)) firstWrite.set(e.successorSid, e.t1)
    const list = writes.get(e.successorSid) ?? []
    list.push(e.t1)
    writes.set(e.successorSid, list)
  }
  // Honest reuse answers, and those a lost answer and the client's network cut explain (few:
  // computed once, not per logout, over a history of ~700k exchanges in 30 minutes).
  const reusedAll = ex.filter((e) => e.code === 'token_reused' && honest(e.actor) && !(e.sid !== undefined && input.attacked.has(e.sid)))
  const cutOff = reusedAll.filter((e) => lostThenCut(history, e) !== undefined)
  const unexplained: string[] = []
  for (const h of history.happenings) {
    if (h.what !== 'session-expired') continue
    const why = explainExpiry(input, h, firstWrite, writes, cutOff)
    if (why === 'attacked') explained.attacked++
    else if (why === 'own action') explained.ownAction++
    else if (why !== null) explained.faultDestroyed.push({ actor: h.actor, ...(h.sid === undefined ? {} : { sid: h.sid }), why })
    else {
      const last = ex
        .filter((e) => e.actor === h.actor && e.kind === 'refresh' && e.t0 <= h.t)
        .slice(-3)
        .map(show)
      unexplained.push(`${h.actor} session-expired ${h.detail} sid=${h.sid} at ${h.t}; last refreshes: ${last.join(' | ')}`)
    }
  }

  // Each with the earlier exchanges of its jti: who rotated it, and what they were answered.
  const reused = reusedAll
    .filter((e) => !cutOff.includes(e))
    .map(
      (e) =>
        `${show(e)}; before: ${
          ex
            .filter((x) => x.jti === e.jti && x.id < e.id)
            .slice(-4)
            .map(show)
            .join(' | ') || 'none'
        }`,
    )

  const attacks: string[] = []
  const unreplicatedReplays: string[] = []
  const rotatedBefore = new Map<string, number>()
  for (const e of ex)
    if (e.kind === 'refresh' && e.status === 200 && e.jti !== undefined && !rotatedBefore.has(e.jti)) rotatedBefore.set(e.jti, e.t0)
  for (const e of ex.filter((x) => x.actor.startsWith('attacker') && x.status !== null && x.status !== 503)) {
    const rotated = e.jti !== undefined && (rotatedBefore.get(e.jti) ?? Infinity) < e.t0
    if (e.status === 200 && rotated) attacks.push(`a replay of an already rotated token refreshed: ${show(e)}`)
    if (e.sid === undefined || e.status !== 401) continue
    const alive = ex.find((x) => x.kind === 'refresh' && x.status === 200 && x.sid === e.sid && x.t0 > e.t1)
    if (alive === undefined) continue
    const line = `family ${e.sid} still refreshes after the replay ${show(e)}: ${show(alive)}`
    // The reuse verdict revoked the family like a logout; one baton could not confirm on a
    // replica (revoke_unreplicated) is named, as an undone revocation is, not failed.
    if (input.unreplicated?.has(e.sid) === true) unreplicatedReplays.push(`${line}; revoke_unreplicated was logged for it`)
    else attacks.push(line)
  }

  const undone: string[] = []
  const unreplicatedUndone: string[] = []
  // The run names the window instead of failing when baton said it could not confirm that one.
  const undo = (r: Revoked, line: string): void => {
    if (r.sid === undefined || input.unreplicated?.has(r.sid) !== true) return void undone.push(line)
    // The window: the Redis fault under way at the revocation, or the first one after it.
    const redisFault = input.history.faults.find((f) => f.target.startsWith('redis') && f.end >= r.t)
    const window =
      redisFault === undefined
        ? `from ${r.t}`
        : `${redisFault.kind} on ${redisFault.target} ${redisFault.start}..${redisFault.end}, revoked at ${r.t}`
    unreplicatedUndone.push(`${line}; revoke_unreplicated was logged for it (window: ${window})`)
  }
  for (const p of input.revokedProbes) {
    if (p.status !== 200) continue
    const r = input.revoked[p.index] as Revoked
    undo(r, `revoked (${r.why} at ${r.t}) sid=${r.sid} refreshed again at ${p.t}, after ${p.after}`)
  }
  for (const r of input.revoked) {
    const later = ex.find((e) => e.kind === 'refresh' && e.status === 200 && e.sid === r.sid && e.t0 > r.t + 100)
    if (later !== undefined) undo(r, `sid=${r.sid} (${r.why} at ${r.t}) refreshed later: ${show(later)}`)
  }
  explained.unreplicatedUndone = [...unreplicatedUndone, ...unreplicatedReplays]

  const successors = new Map<string, Set<string>>()
  /** When each token's first successor was answered. */
  const firstIssued = new Map<string, number>()
  const forks: string[] = []
  for (const e of ex) {
    if (e.kind !== 'refresh' || e.status !== 200 || e.jti === undefined || e.successor === undefined) continue
    const set = successors.get(e.jti) ?? new Set<string>()
    set.add(e.successor)
    successors.set(e.jti, set)
    if (!firstIssued.has(e.jti)) firstIssued.set(e.jti, e.t1)
    if (set.size !== 2) continue
    const line = `jti ${e.jti} has successors ${[...set].join(', ')}: ${ex
      .filter((x) => x.jti === e.jti && x.status === 200)
      .map(show)
      .join(' | ')}`
    // A fault that destroys data between the two answers took the first successor's rotation
    // with it: that successor is not valid any more, so two were never valid at once.
    const first = firstIssued.get(e.jti) as number
    const loss = history.faults.find((f) => f.destroysData && f.start >= first - 5_000 && f.start <= e.t0)
    if (loss !== undefined) explained.forksAfterLoss.push(`${line}; the first successor's write was lost in ${loss.kind} at ${loss.start}`)
    else forks.push(line)
  }

  // Retry storm: runs of failed refreshes (503 / no answer) per client, against the backoff's
  // floor (SPEC §6: exponential from 1 s with equal jitter, so never closer than 0.5 s).
  const storms: string[] = []
  let worstRun = 0
  const runs = new Map<string, Exchange[]>()
  const closeRun = (actor: string): void => {
    const run = runs.get(actor)
    runs.delete(actor)
    if (run === undefined || run.length < 2) return
    worstRun = Math.max(worstRun, run.length)
    const span = (run.at(-1) as Exchange).t0 - (run[0] as Exchange).t0
    if (run.length > 3 + span / 500)
      storms.push(
        `${actor}: ${run.length} failed refreshes in ${span} ms (bound ${Math.floor(3 + span / 500)}): ${run.slice(0, 3).map(show).join(' | ')}`,
      )
  }
  for (const e of ex) {
    if (!honest(e.actor) || e.kind !== 'refresh') continue
    if (e.status === 503 || e.status === null) runs.set(e.actor, [...(runs.get(e.actor) ?? []), e])
    else closeRun(e.actor)
  }
  for (const actor of [...runs.keys()]) closeRun(actor)

  // Two tabs of one user (one storage, one lock) never refresh one token at the same time.
  const concurrent: string[] = []
  const inFlight = new Map<string, Exchange[]>()
  for (const e of ex) {
    if (e.kind !== 'refresh' || e.jti === undefined || !honest(e.actor) || e.error === 'refused' || e.error === 'offline') continue
    // The browser lane judges its own tabs: a frozen tab's refresh overlaps the stealer's by design.
    if (e.actor.startsWith(BROWSER_ACTORS)) continue
    const list = inFlight.get(e.jti) ?? []
    const user = e.actor.split('/')[0]
    for (const other of list)
      if (other.actor !== e.actor && other.actor.split('/')[0] === user && other.t0 < e.t1 && e.t0 < other.t1)
        concurrent.push(`${show(other)} | ${show(e)}`)
    list.push(e)
    inFlight.set(e.jti, list)
  }

  // A refresh answer lost after the server rotated (client-faults.ts): the client's retry of the
  // same token must be answered the same successor (the grace window), never reuse or another.
  const lostAnswers = ex.filter((e) => e.lost === true)
  const refreshesOf = new Map<string, Exchange[]>()
  for (const e of ex) if (e.kind === 'refresh' && e.jti !== undefined) refreshesOf.set(e.jti, [...(refreshesOf.get(e.jti) ?? []), e])
  const lostWrong: string[] = []
  let lostRetried = 0
  for (const l of lostAnswers) {
    const retry = (l.jti === undefined ? [] : (refreshesOf.get(l.jti) ?? [])).find(
      (e) => e.id > l.id && userOf(e.actor) === userOf(l.actor) && e.status !== null && e.status !== 503,
    )
    if (retry === undefined) continue
    lostRetried++
    if (retry.status !== 200 || retry.successor !== l.successor) {
      // After the grace window with the network cut, the successor is gone with the answer.
      if (retry.code === 'token_reused' && lostThenCut(history, retry) !== undefined) continue
      // The user ended that session meanwhile (another device's logout-all or DELETE, a logout):
      // token_revoked is the right answer (the 30-minute run of 2026-12-08: a logout-all 157 ms
      // before the retry).
      if (retry.code === 'token_revoked' && endedByUser(history, userOf(l.actor), retry.sid, l.t0, retry.t1)) continue
      // A fault that destroyed data took the rotation (another successor) or the session (401):
      // the same explanation as for a second successor (forksAfterLoss).
      const loss = history.faults.find((f) => f.destroysData && f.start >= l.t0 - 5_000 && f.start <= retry.t0)
      if (loss !== undefined && retry.code !== 'token_reused') {
        explained.lostAfterLoss.push(`answer lost: ${show(l)}; retry: ${show(retry)}; ${loss.kind} at ${loss.start} destroyed data between`)
        continue
      }
      lostWrong.push(`answer lost: ${show(l)}; retry: ${show(retry)}`)
    }
  }

  // SPEC §6: a 401 the application answers for another reason costs one refresh and one retry.
  const notAboutToken = history.happenings.filter((h) => h.what === 'not-about-token')
  const loops = notAboutToken
    .filter((h) => Number(h.detail) > 1)
    .map((h) => `${h.actor} at ${h.t}: ${h.detail} refreshes for one call answered 401 not about the token`)
  const costs = notAboutToken.map((h) => Number(h.detail))

  const slowRecoveries: string[] = []
  for (const [f, ms] of input.recovery)
    if (ms === null || ms > input.recoveryBoundMs)
      slowRecoveries.push(`${f.kind} on ${f.target} ended at ${f.end}: ${ms === null ? 'no good refresh within 30 s' : `${ms} ms`}`)

  const m = input.memory
  const invariants = [
    invariant('no 5xx but 503', fivexx.map(show), `${fivexx.length} of ${ex.length} responses`),
    invariant('no unexpected 4xx', odd.map(show), `${odd.length} honest requests answered other than 2xx/401/503`),
    invariant(
      'every request answered in time',
      slow,
      `${slow.length} late or unanswered (bound ${input.storeTimeoutMs}+${input.marginMs} ms for store routes); ${explained.killedInstance} to an instance that was down, counted apart`,
    ),
    invariant('no client call hangs', hung, `${hung.length} calls past the hard bound`),
    invariant(
      'no unexplained logout',
      unexplained,
      `${unexplained.length} unexplained; own/other session ${explained.ownAction}, attacked ${explained.attacked}, data a fault destroyed ${explained.faultDestroyed.length}`,
    ),
    invariant(
      'no token_reused for an honest client',
      reused,
      `${reused.length}; ${cutOff.length} after a lost answer and no refresh through the client's network within the grace window, counted apart`,
    ),
    invariant(
      'every replay ends its family',
      attacks,
      `${ex.filter((x) => x.actor.startsWith('attacker') && x.status === 401).length} replays refused`,
    ),
    invariant(
      'a revocation is never undone',
      undone,
      `${input.revoked.length} revoked tokens, ${input.revokedProbes.length} probes; ${unreplicatedUndone.length} undone in a named window (revoke_unreplicated, then a failover)`,
    ),
    invariant(
      'one successor per refresh token',
      forks,
      `${successors.size} rotated jtis; ${explained.forksAfterLoss.length} answered again after a fault destroyed the first rotation`,
    ),
    invariant('no retry storm', storms, `longest run of failed refreshes of one client: ${worstRun}`),
    invariant('no two tabs refresh one token at once', concurrent, `${concurrent.length} overlapping refreshes of one jti by two tabs`),
    invariant(
      'a lost refresh answer is retried to the same successor',
      lostWrong,
      `${lostAnswers.length} answers lost after rotation, ${lostRetried} retried, ${lostRetried - lostWrong.length - explained.lostAfterLoss.length} to the same successor, ${explained.lostAfterLoss.length} after a fault destroyed data between`,
    ),
    invariant(
      'a 401 not about the token costs at most one refresh',
      loops,
      `${costs.length} such calls, ${costs.filter((c) => c === 1).length} with one refresh, ${costs.filter((c) => c === 0).length} with none, at most ${Math.max(0, ...costs)}`,
    ),
    invariant('every Redis key has a TTL', input.keys.withoutTTL, `${input.keys.total} keys, ${input.keys.withoutTTL.length} without TTL`),
    invariant(
      'memory and sockets bounded',
      [
        m.batonRssMax > m.batonBound ? `baton RSS ${m.batonRssMax} > ${m.batonBound}` : '',
        m.redisUsedMax > m.redisBound ? `redis used_memory ${m.redisUsedMax} > ${m.redisBound}` : '',
        m.batonFdsMax > m.batonFdsBound ? `baton open descriptors ${m.batonFdsMax} > ${m.batonFdsBound}` : '',
      ].filter(Boolean),
      `baton RSS max ${(m.batonRssMax / 2 ** 20).toFixed(0)} MiB, open descriptors max ${m.batonFdsMax}, redis used_memory max ${(m.redisUsedMax / 2 ** 20).toFixed(1)} MiB`,
    ),
    invariant(
      'recovery within the bound',
      slowRecoveries,
      `bound ${input.recoveryBoundMs} ms (SPEC §4 says 2 s; the generous bound is for a loaded CI machine)`,
    ),
  ]
  return { invariants, explained }
}
