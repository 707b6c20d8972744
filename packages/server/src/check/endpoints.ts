import { type Answer, type ProbeHTTP, type ProbeRequest, tokenField } from './http.js'
import { tokenIdentity } from './jwt-claims.js'
import type { CheckTarget } from './target.js'

/** An answer with the probe that got it, for the report-wide checks (error shape, no-store). */
export interface Labelled {
  label: string
  answer: Answer
}

/**
 * The state the probes share: the HTTP client, the target's endpoints, every error answer and
 * every token answer seen (error shape and Cache-Control are judged over all of them), and the
 * refresh tokens that may still be live, so the run can log them out at the end and leave no
 * session of its own behind.
 */
export interface ProbeContext {
  http: ProbeHTTP
  target: CheckTarget
  errors: Labelled[]
  tokenAnswers: Labelled[]
  /** Refresh tokens that may still be live, by identity (jti): one logout per token, not per copy. */
  live: Map<string, string>
}

export function createProbeContext(http: ProbeHTTP, target: CheckTarget): ProbeContext {
  return { http, target, errors: [], tokenAnswers: [], live: new Map() }
}

/** What a login or a refresh answered, with the tokens it carried. */
export interface TokenAnswer {
  answer: Answer
  access: string | null
  refresh: string | null
}

/** Whether the answer is a 4xx (an expected refusal), as opposed to a 5xx or no answer. */
export function isClientError(answer: Answer): boolean {
  return answer.status >= 400 && answer.status < 500
}

/** Whether the answer is what an outage or a bug looks like: 5xx, or no answer at all. */
export function isServerError(answer: Answer): boolean {
  return answer.status === 0 || answer.status >= 500
}

function record(ctx: ProbeContext, label: string, answer: Answer): void {
  if (isClientError(answer)) ctx.errors.push({ label, answer })
}

function tokens(ctx: ProbeContext, label: string, answer: Answer): TokenAnswer {
  record(ctx, label, answer)
  const access = answer.status === 200 ? tokenField(answer, 'access') : null
  const refresh = answer.status === 200 ? tokenField(answer, 'refresh') : null
  if (access !== null || refresh !== null) ctx.tokenAnswers.push({ label, answer })
  if (refresh !== null) ctx.live.set(tokenIdentity(refresh), refresh)
  return { answer, access, refresh }
}

/** LOGIN (SPEC §1): `{username, password}` → `{access, refresh}`. */
export async function postLogin(ctx: ProbeContext, username: string, password: string, label = 'login'): Promise<TokenAnswer> {
  return tokens(ctx, label, await ctx.http.post(ctx.target.login, { json: { username, password } }))
}

/** REFRESH (SPEC §1, §3): `{refresh}` → `{access, refresh?}`. A rotated-out or refused token leaves the live set. */
export async function postRefresh(ctx: ProbeContext, refresh: string, label: string): Promise<TokenAnswer> {
  const out = tokens(ctx, label, await ctx.http.post(ctx.target.refresh, { json: { refresh } }))
  const rotatedOut = out.refresh !== null && tokenIdentity(out.refresh) !== tokenIdentity(refresh)
  if (rotatedOut || out.answer.status === 401) ctx.live.delete(tokenIdentity(refresh))
  return out
}

/** VERIFY (SPEC §1): `{token}` → 200 `{}` when valid. */
export async function postVerify(ctx: ProbeContext, token: string, label: string): Promise<Answer> {
  const answer = await ctx.http.post(ctx.target.verify, { json: { token } })
  record(ctx, label, answer)
  return answer
}

/** BLACKLIST / logout (SPEC §1): `{refresh}` → 200 `{}`. */
export async function postLogout(ctx: ProbeContext, refresh: string, label: string): Promise<Answer> {
  const answer = await ctx.http.post(ctx.target.blacklist, { json: { refresh } })
  record(ctx, label, answer)
  if (answer.status >= 200 && answer.status < 300) ctx.live.delete(tokenIdentity(refresh))
  return answer
}

/** A raw POST to REFRESH (the malformed-input probes). */
export async function postRaw(ctx: ProbeContext, request: ProbeRequest, label: string): Promise<Answer> {
  const answer = await ctx.http.post(ctx.target.refresh, request)
  record(ctx, label, answer)
  return answer
}

/** A GET of the protected resource with a bearer token. */
export async function getProtected(ctx: ProbeContext, url: URL, bearer: string, label: string): Promise<Answer> {
  const answer = await ctx.http.get(url, { bearer })
  record(ctx, label, answer)
  return answer
}
