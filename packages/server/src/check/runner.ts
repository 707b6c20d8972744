import { type Labelled, type ProbeContext, createProbeContext, isServerError, postLogin, postRefresh } from './endpoints.js'
import { TEXT, finding } from './findings.js'
import { createProbeHTTP, describeAnswer, field } from './http.js'
import { decodeJWT, describeSeconds, numberClaim } from './jwt-claims.js'
import { probeGarbageToken, probeHugeBody, probeMalformedJSON, probeWWWAuthenticate, probeWrongContentType } from './probes-input.js'
import { logOutLeftovers, probeLogout, probeLostResponse, probeParallel, probeReplay } from './probes-session.js'
import type { CheckTarget } from './target.js'
import type { CheckFinding, CheckReport, FindingId, Flavour } from './types.js'

/** baton's default grace window is 15 s (SPEC §3.2); the default wait adds a margin. */
export const DEFAULT_GRACE_SECONDS = 20
/** SPEC §9's budget: the whole run stays under this many requests. */
export const MAX_REQUESTS = 100

export interface CheckOptions {
  target: CheckTarget
  username: string
  password: string
  /** How long to wait after a rotation before replaying the old token. @default DEFAULT_GRACE_SECONDS */
  graceSeconds?: number
  /** Per request. @default 10000 */
  timeoutMs?: number
}

export interface CheckDeps {
  fetch?: typeof fetch
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number
  /** Waits (the grace window). Tests pass one that moves a fake clock. @default setTimeout */
  wait?: (ms: number) => Promise<void>
  /** One line of progress (to stderr), never part of the report. */
  progress?: (line: string) => void
}

const ORDER: FindingId[] = [
  'login',
  'rotation',
  'lost-response-retry',
  'double-spend',
  'reuse-detection',
  'logout',
  'malformed-json',
  'wrong-content-type',
  'huge-body',
  'garbage-token',
  'error-shape',
  'cache-control',
  'www-authenticate',
  'access-lifetime',
  'refresh-lifetime',
]

/**
 * `baton check` (SPEC §9): logs in and runs every probe against the target, in under
 * MAX_REQUESTS requests, then logs out whatever sessions it opened. Answers the report; the
 * caller prints it (masked) and picks the exit code.
 */
export async function runCheck(
  options: CheckOptions,
  deps: CheckDeps = {},
): Promise<{ report: CheckReport; secrets: ReadonlySet<string> }> {
  const now = deps.now ?? Date.now
  const wait = deps.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const http = createProbeHTTP({
    password: options.password,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  })
  const ctx = createProbeContext(http, options.target)
  const findings: CheckFinding[] = []
  const { username, password } = options

  const login = await postLogin(ctx, username, password)
  let flavour: Flavour = 'unknown'
  if (login.access === null || login.refresh === null) {
    findings.push(loginFinding(login.answer))
    findings.push(...(await inputProbes(ctx, flavour)))
  } else {
    flavour = flavourOf(login.access)
    findings.push(
      finding(
        'login',
        'ok',
        `Logged in as ${username}: 200 with an access and a refresh token`,
        'The login endpoint answers simplejwt\u2019s {access, refresh}.',
        flavour,
      ),
    )
    const first = await postRefresh(ctx, login.refresh, 'rotation')
    const rotatedAt = now()
    if (first.answer.status !== 200) {
      findings.push(rotationBroken(first.answer, flavour))
    } else {
      const successor = first.refresh !== null && first.refresh !== login.refresh ? first.refresh : null
      findings.push(await probeLostResponse(ctx, flavour, login.refresh, successor))
      findings.push(await probeWWWAuthenticate(ctx, flavour, login.access))
      findings.push(await probeParallel(ctx, flavour, { username, password }))
      findings.push(await probeLogout(ctx, flavour, username, password))
      findings.push(...(await inputProbes(ctx, flavour)))
      if (successor === null) {
        findings.push(...noRotationFindings(flavour))
      } else {
        const graceMs = (options.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000
        const remaining = graceMs - (now() - rotatedAt)
        if (remaining > 0) {
          deps.progress?.(
            `waiting ${Math.ceil(remaining / 1000)} s for the grace window (--grace-seconds) before replaying a rotated token`,
          )
          await wait(remaining)
        }
        const waited = Math.round((now() - rotatedAt) / 1000)
        const replay = await probeReplay(ctx, flavour, login.refresh, successor, waited)
        findings.push(replay.finding)
        findings.push(
          replay.accepted
            ? finding(
                'rotation',
                'fail',
                `Refresh answers a new refresh token, but the old one still works ${waited} s later`,
                TEXT.notSuperseded.meaning,
                flavour,
                TEXT.notSuperseded.fixes,
              )
            : finding(
                'rotation',
                'ok',
                `Refresh answers a new refresh token; the old one is refused ${waited} s later`,
                'A copied refresh token stops working once the user refreshes.',
                flavour,
              ),
        )
      }
      findings.push(...lifetimeFindings(login.access, login.refresh, successor, flavour))
    }
    await logOutLeftovers(ctx)
  }
  findings.push(errorShapeFinding(ctx.errors, flavour))
  if (ctx.tokenAnswers.length > 0) findings.push(noStoreFinding(ctx.tokenAnswers, flavour))
  findings.sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id))
  return { report: { target: options.target.shown, findings, requests: http.requests }, secrets: http.secrets }
}

/** Refresh answered no new refresh token: rotation is off, and reuse detection cannot be tried. */
function noRotationFindings(flavour: Flavour): CheckFinding[] {
  return [
    finding(
      'rotation',
      'warn',
      'Refresh answered only an access token: no rotation',
      TEXT.notRotated.meaning,
      flavour,
      TEXT.notRotated.fixes,
    ),
    finding(
      'reuse-detection',
      'warn',
      'Not applicable: without rotation there is no old token to replay',
      TEXT.notRotated.meaning,
      flavour,
      TEXT.notRotated.fixes,
    ),
  ]
}

async function inputProbes(ctx: ProbeContext, flavour: Flavour): Promise<CheckFinding[]> {
  return [
    await probeMalformedJSON(ctx, flavour),
    await probeWrongContentType(ctx, flavour),
    await probeHugeBody(ctx, flavour),
    await probeGarbageToken(ctx, flavour),
  ]
}

function loginFinding(answer: Parameters<typeof describeAnswer>[0]): CheckFinding {
  if (isServerError(answer))
    return finding('login', 'fail', `Login answered ${describeAnswer(answer)}`, TEXT.serverError.meaning, 'unknown', TEXT.serverError.fixes)
  const what =
    answer.status === 200 ? '200 without an access and a refresh token in the body (cookie mode is not checked)' : describeAnswer(answer)
  return finding('login', 'fail', `Login answered ${what}`, TEXT.loginRejected.meaning, 'unknown', TEXT.loginRejected.fix)
}

function rotationBroken(answer: Parameters<typeof describeAnswer>[0], flavour: Flavour): CheckFinding {
  if (isServerError(answer))
    return finding(
      'rotation',
      'fail',
      `Refreshing the login's refresh token answered ${describeAnswer(answer)}`,
      TEXT.serverError.meaning,
      flavour,
      TEXT.serverError.fixes,
    )
  return finding(
    'rotation',
    'fail',
    `Refreshing the login's refresh token answered ${describeAnswer(answer)}`,
    'A fresh refresh token was refused, so every session ends when its first access token expires; the session checks were not run.',
    flavour,
    'Check that REFRESH (the second of --paths) is the refresh endpoint.',
  )
}

/** baton's access tokens are `typ: at+jwt` (SPEC §2); simplejwt's are `typ: JWT` with `token_type` and no `iss`. */
function flavourOf(access: string): Flavour {
  const jwt = decodeJWT(access)
  if (jwt === null) return 'unknown'
  if (jwt.header.typ === 'at+jwt' && jwt.claims.sid !== undefined) return 'baton'
  if (jwt.claims.token_type === 'access' && jwt.claims.iss === undefined && jwt.claims.jti !== undefined) return 'simplejwt'
  return 'unknown'
}

/** SPEC §2: access tokens short-lived (warn above 15 min); refresh tokens bounded (SPEC §3.4). */
function lifetimeFindings(access: string, refresh: string, successor: string | null, flavour: Flavour): CheckFinding[] {
  const out: CheckFinding[] = []
  const a = decodeJWT(access)
  const aExp = numberClaim(a, 'exp')
  const aIat = numberClaim(a, 'iat')
  if (aExp === null) {
    out.push(
      finding(
        'access-lifetime',
        'fail',
        'The access token has no exp: it never expires',
        TEXT.longAccess.meaning,
        flavour,
        TEXT.longAccess.fixes,
      ),
    )
  } else if (aIat !== null) {
    const life = aExp - aIat
    out.push(
      life > 900
        ? finding(
            'access-lifetime',
            'warn',
            `Access tokens live ${describeSeconds(life)}, more than 15 min`,
            TEXT.longAccess.meaning,
            flavour,
            TEXT.longAccess.fixes,
          )
        : finding(
            'access-lifetime',
            'ok',
            `Access tokens live ${describeSeconds(life)}`,
            'A stolen or logged-out access token stops working soon.',
            flavour,
          ),
    )
  }
  const r = decodeJWT(refresh)
  const rExp = numberClaim(r, 'exp')
  const rIat = numberClaim(r, 'iat')
  const life = rExp !== null && rIat !== null ? describeSeconds(rExp - rIat) : null
  if (rExp === null) {
    out.push(
      finding(
        'refresh-lifetime',
        'warn',
        'The refresh token has no exp: it never expires',
        TEXT.unboundedRefresh.meaning,
        flavour,
        TEXT.unboundedRefresh.fixes,
      ),
    )
  } else if (successor === null) {
    out.push(
      finding(
        'refresh-lifetime',
        'ok',
        `Refresh tokens live ${life ?? 'until their exp'}, not renewed (no rotation)`,
        'A session ends when its refresh token expires.',
        flavour,
      ),
    )
  } else if (numberClaim(r, 'auth_time') !== null) {
    out.push(
      finding(
        'refresh-lifetime',
        'ok',
        `Refresh tokens live ${life ?? 'until their exp'} and carry auth_time: rotation keeps the session's start`,
        'A session ends at its absolute lifetime, however often it refreshes.',
        flavour,
      ),
    )
  } else {
    const s = decodeJWT(successor)
    const renewed =
      numberClaim(s, 'exp') !== null && numberClaim(s, 'exp')! > rExp ? ' (the rotated token expires later than the first)' : ''
    out.push(
      finding(
        'refresh-lifetime',
        'warn',
        `Refresh tokens live ${life ?? 'until their exp'}, and rotation can renew that${renewed}: no absolute session lifetime is visible (no auth_time)`,
        TEXT.unboundedRefresh.meaning,
        flavour,
        TEXT.unboundedRefresh.fixes,
      ),
    )
  }
  return out
}

/** SPEC §1: every error is JSON `{detail, code}`. Judged over every 4xx the run saw. */
function errorShapeFinding(errors: Labelled[], flavour: Flavour): CheckFinding {
  const bad = new Map<string, number>()
  for (const { label, answer } of errors) {
    if (typeof field(answer, 'detail') !== 'string' || typeof field(answer, 'code') !== 'string') bad.set(probeName(label), answer.status)
  }
  if (bad.size === 0) {
    return finding(
      'error-shape',
      'ok',
      `All ${errors.length} error answers were JSON {detail, code}`,
      'Clients can switch on the code of every error.',
      flavour,
    )
  }
  const list = [...bad].map(([label, status]) => `${label} (${status})`).join(', ')
  return finding(
    'error-shape',
    'warn',
    `${bad.size} kind${bad.size === 1 ? '' : 's'} of error answer lacked {detail, code}: ${list}`,
    TEXT.errorShape.meaning,
    flavour,
    TEXT.errorShape.fixes,
  )
}

/** SPEC §1 and RFC 6749 §5.1: answers that carry tokens have `Cache-Control: no-store`. */
function noStoreFinding(answers: Labelled[], flavour: Flavour): CheckFinding {
  const missing = [
    ...new Set(answers.filter((a) => !/\bno-store\b/i.test(a.answer.headers.get('cache-control') ?? '')).map((a) => probeName(a.label))),
  ]
  if (missing.length === 0) {
    return finding(
      'cache-control',
      'ok',
      `All ${answers.length} answers carrying tokens had Cache-Control: no-store`,
      'No cache keeps a copy of a token.',
      flavour,
    )
  }
  return finding(
    'cache-control',
    'warn',
    `Answers carrying tokens without Cache-Control: no-store: ${missing.join(', ')}`,
    TEXT.noStore.meaning,
    flavour,
    TEXT.noStore.fixes,
  )
}

/** A probe's label without its round or purpose in brackets: `login (logout)` → `login`. */
function probeName(label: string): string {
  return label.replace(/ \(.*\)$/, '')
}
