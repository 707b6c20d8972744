import { type ProbeContext, isServerError, postLogin, postLogout, postRefresh, postVerify } from './endpoints.js'
import { TEXT, finding } from './findings.js'
import { type Answer, describeAnswer } from './http.js'
import { tokenIdentity } from './jwt-claims.js'
import type { CheckFinding, Flavour } from './types.js'

/**
 * The session probes of SPEC §9, each about one rule of SPEC §3: a lost-response retry, parallel
 * refreshes of one token, a replay after the grace window, and logout. Each answers a finding.
 */

function serverError(id: CheckFinding['id'], what: string, answer: Answer, flavour: Flavour): CheckFinding {
  return finding(id, 'fail', `${what} answered ${describeAnswer(answer)}`, TEXT.serverError.meaning, flavour, TEXT.serverError.fixes)
}

/**
 * A client that lost the refresh answer presents the same token again at once (SPEC §3.2: within
 * grace it gets the same successor). `successor` is what the first refresh answered (null: no
 * rotation, so there is nothing to lose).
 */
export async function probeLostResponse(ctx: ProbeContext, flavour: Flavour, old: string, successor: string | null): Promise<CheckFinding> {
  const id = 'lost-response-retry'
  const retry = await postRefresh(ctx, old, 'lost-response retry')
  if (isServerError(retry.answer)) return serverError(id, 'Presenting the refresh token again at once', retry.answer, flavour)
  if (retry.answer.status !== 200) {
    return finding(
      id,
      'fail',
      `Presenting the refresh token again at once (a client that lost the answer) answered ${describeAnswer(retry.answer)}: the user is logged out`,
      TEXT.loggedOutOnRetry.meaning,
      flavour,
      TEXT.loggedOutOnRetry.fixes,
    )
  }
  if (successor === null) {
    return finding(
      id,
      'ok',
      'No rotation: the same refresh token works again, so a lost answer costs nothing',
      'A client that lost the answer just refreshes again.',
      flavour,
    )
  }
  if (retry.refresh === null) {
    return finding(
      id,
      'warn',
      'Presenting the refresh token again at once answered 200 without a refresh token',
      'A client that lost the first answer keeps its old refresh token, which the service has retired: its next refresh fails.',
      flavour,
      TEXT.loggedOutOnRetry.fixes,
    )
  }
  if (tokenIdentity(retry.refresh) === tokenIdentity(successor)) {
    return finding(
      id,
      'ok',
      'Presenting the refresh token again at once answered the same successor (same jti)',
      'A client that lost the refresh answer, or two tabs refreshing together, carry on logged in.',
      flavour,
    )
  }
  const first = await postVerify(ctx, successor, 'verify first successor')
  if (first.status === 200) {
    return finding(
      id,
      'warn',
      'Presenting the refresh token again at once answered a different successor, and the first one still verifies',
      TEXT.fork.meaning,
      flavour,
      TEXT.fork.fixes,
    )
  }
  return finding(
    id,
    'ok',
    'Presenting the refresh token again at once answered a new successor and retired the first',
    'A client that lost the refresh answer carries on logged in.',
    flavour,
  )
}

export interface ParallelOptions {
  username: string
  password: string
  /** Refreshes sent at once per round. @default 6 */
  parallel?: number
  /** Rounds (a fresh login each), stopping at the first double spend: a race may not show every time. @default 3 */
  rounds?: number
}

interface RoundOutcome {
  kind: 'double-spend' | 'forked' | 'losers' | 'one-successor' | 'no-rotation' | 'server-error' | 'no-login'
  title: string
  answer?: Answer
}

/**
 * Parallel refreshes of one refresh token (SPEC §3.2: "concurrent tabs … both succeed" with the
 * same successor). Two or more different successors that each verify and refresh again are a
 * double spend. Each round is a new login, so one round's outcome cannot affect the next.
 */
export async function probeParallel(ctx: ProbeContext, flavour: Flavour, options: ParallelOptions): Promise<CheckFinding> {
  const id = 'double-spend'
  const n = options.parallel ?? 6
  const rounds = options.rounds ?? 3
  const outcomes: RoundOutcome[] = []
  for (let round = 1; round <= rounds; round++) {
    const outcome = await parallelRound(ctx, n, options, `round ${round} of ${rounds}`)
    outcomes.push(outcome)
    if (outcome.kind === 'double-spend' || outcome.kind === 'server-error' || outcome.kind === 'no-rotation' || outcome.kind === 'no-login')
      break
  }
  const worst = (kind: RoundOutcome['kind']) => outcomes.find((o) => o.kind === kind)
  const spent = worst('double-spend')
  if (spent !== undefined) return finding(id, 'fail', spent.title, TEXT.doubleSpend.meaning, flavour, TEXT.doubleSpend.fixes)
  const broken = worst('server-error')
  if (broken !== undefined) return finding(id, 'fail', broken.title, TEXT.serverError.meaning, flavour, TEXT.serverError.fixes)
  const noLogin = worst('no-login')
  if (noLogin !== undefined) return finding(id, 'fail', noLogin.title, TEXT.loginRejected.meaning, flavour, TEXT.loginRejected.fix)
  const noRotation = worst('no-rotation')
  if (noRotation !== undefined)
    return finding(id, 'ok', noRotation.title, 'Without rotation there is no successor to spend twice.', flavour)
  const partial = worst('losers') ?? worst('forked')
  const suffix = `; no double spend in ${outcomes.length} round${outcomes.length === 1 ? '' : 's'}`
  if (partial !== undefined)
    return finding(id, 'warn', `${partial.title}${suffix}`, TEXT.concurrentLoggedOut.meaning, flavour, TEXT.concurrentLoggedOut.fixes)
  return finding(
    id,
    'ok',
    `${n} parallel refreshes of one token all answered the same successor, ${outcomes.length} round${outcomes.length === 1 ? '' : 's'}`,
    'Tabs that refresh at the same moment all carry on with one session; a token cannot be spent twice.',
    flavour,
  )
}

async function parallelRound(ctx: ProbeContext, n: number, options: ParallelOptions, round: string): Promise<RoundOutcome> {
  const login = await postLogin(ctx, options.username, options.password, `login (parallel ${round})`)
  if (login.refresh === null)
    return { kind: 'no-login', title: `The login for the parallel refreshes (${round}) answered ${describeAnswer(login.answer)}` }
  const token = login.refresh
  const answers = await Promise.all(Array.from({ length: n }, () => postRefresh(ctx, token, `parallel refresh (${round})`)))
  const what = `${n} parallel refreshes of one token (${round})`
  const broken = answers.find((a) => isServerError(a.answer))
  if (broken !== undefined) {
    const count = answers.filter((a) => isServerError(a.answer)).length
    return { kind: 'server-error', title: `${what}: ${count} answered ${describeAnswer(broken.answer)}`, answer: broken.answer }
  }
  const ok = answers.filter((a) => a.answer.status === 200)
  const refused = answers.filter((a) => a.answer.status !== 200)
  const refusedText = refused.length === 0 ? '' : `, ${refused.length} answered ${describeAnswer(refused[0]!.answer)}`
  if (ok.length > 0 && ok.every((a) => a.refresh === null))
    return { kind: 'no-rotation', title: `${what}: no rotation (only access tokens came back)` }
  const successors = new Map<string, string>()
  for (const a of ok) if (a.refresh !== null) successors.set(tokenIdentity(a.refresh), a.refresh)
  if (successors.size <= 1) {
    return ok.length === n
      ? { kind: 'one-successor', title: `${what}: all answered the same successor` }
      : { kind: 'losers', title: `${what}: ${ok.length} answered 200${refusedText}` }
  }
  // Different successors: does each one work? verify first (it changes nothing), then a further
  // refresh, which is what a second client holding it would do.
  let verified = 0
  let refreshed = 0
  for (const successor of successors.values()) {
    if ((await postVerify(ctx, successor, `verify successor (${round})`)).status !== 200) continue
    verified++
    if ((await postRefresh(ctx, successor, `refresh successor (${round})`)).answer.status === 200) refreshed++
  }
  const title = `${what}: ${ok.length} answered 200 with ${successors.size} different successors${refusedText}; ${verified} verified and ${refreshed} refreshed again`
  return refreshed >= 2 ? { kind: 'double-spend', title } : { kind: 'forked', title }
}

/** What the replay after the grace window found, for the rotation finding too. */
export interface ReplayOutcome {
  finding: CheckFinding
  /** The old token still refreshed after the wait: it was never superseded. */
  accepted: boolean
}

/**
 * The old refresh token presented again after the grace window (SPEC §3.2: reuse, the session is
 * revoked), then the newest token of the same session: does it still work?
 */
export async function probeReplay(
  ctx: ProbeContext,
  flavour: Flavour,
  old: string,
  newest: string,
  waitedSeconds: number,
): Promise<ReplayOutcome> {
  const id = 'reuse-detection'
  const after = `${Math.round(waitedSeconds)} s`
  const replay = await postRefresh(ctx, old, 'replay after grace')
  if (isServerError(replay.answer))
    return { accepted: false, finding: serverError(id, `Replaying a rotated refresh token after ${after}`, replay.answer, flavour) }
  if (replay.answer.status === 200) {
    return {
      accepted: true,
      finding: finding(
        id,
        'fail',
        `Replaying a rotated refresh token after ${after} answered 200: it still works`,
        TEXT.replayAccepted.meaning,
        flavour,
        TEXT.replayAccepted.fixes,
      ),
    }
  }
  const family = await postRefresh(ctx, newest, 'same session after replay')
  const replayed = `Replaying a rotated refresh token after ${after} answered ${describeAnswer(replay.answer)}`
  if (isServerError(family.answer))
    return { accepted: false, finding: serverError(id, `${replayed}; then the session's newest token`, family.answer, flavour) }
  if (family.answer.status === 200) {
    return {
      accepted: false,
      finding: finding(
        id,
        'warn',
        `${replayed}, but the session lives on: its newest refresh token still refreshes (200)`,
        TEXT.notRevoked.meaning,
        flavour,
        TEXT.notRevoked.fixes,
      ),
    }
  }
  return {
    accepted: false,
    finding: finding(
      id,
      'ok',
      `${replayed} and ended the session: its newest refresh token answered ${describeAnswer(family.answer)}`,
      'A stolen refresh token used alongside the user is caught the moment either copy comes back, and the whole session ends.',
      flavour,
    ),
  }
}

/** BLACKLIST / logout of a fresh session, then a refresh with the logged-out token. */
export async function probeLogout(ctx: ProbeContext, flavour: Flavour, username: string, password: string): Promise<CheckFinding> {
  const id = 'logout'
  const login = await postLogin(ctx, username, password, 'login (logout)')
  if (login.refresh === null)
    return finding(
      id,
      'fail',
      `The login for the logout check answered ${describeAnswer(login.answer)}`,
      TEXT.loginRejected.meaning,
      flavour,
      TEXT.loginRejected.fix,
    )
  const out = await postLogout(ctx, login.refresh, 'logout')
  if (isServerError(out)) return serverError(id, 'Logout', out, flavour)
  if (out.status < 200 || out.status >= 300) {
    return finding(
      id,
      'fail',
      `Logout answered ${describeAnswer(out)}`,
      TEXT.logoutIneffective.meaning,
      flavour,
      'Check that BLACKLIST (the fourth of --paths) is the logout endpoint.',
    )
  }
  const again = await postRefresh(ctx, login.refresh, 'refresh after logout')
  if (again.answer.status === 200) {
    return finding(
      id,
      'fail',
      `Logout answered ${describeAnswer(out)}, but the refresh token still refreshes (200)`,
      TEXT.logoutIneffective.meaning,
      flavour,
      TEXT.logoutIneffective.fixes,
    )
  }
  if (isServerError(again.answer)) return serverError(id, 'A refresh with a logged-out token', again.answer, flavour)
  return finding(
    id,
    'ok',
    `Logout answered ${describeAnswer(out)} and the refresh token stopped working (${describeAnswer(again.answer)})`,
    'Logging out ends the session for whoever holds a copy of its refresh token.',
    flavour,
  )
}

/** Logs out every refresh token the run may have left live: the check leaves no session behind. */
export async function logOutLeftovers(ctx: ProbeContext): Promise<void> {
  for (const token of [...ctx.live.values()]) await postLogout(ctx, token, 'clean-up logout')
}
