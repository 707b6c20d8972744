import { type ProbeContext, getProtected, isClientError, isServerError, postRaw, postVerify } from './endpoints.js'
import { TEXT, finding } from './findings.js'
import { type Answer, describeAnswer } from './http.js'
import type { CheckFinding, FindingId, Flavour } from './types.js'

/**
 * Bad input (SPEC §1, "Errors"): malformed JSON, a body that is not JSON, a huge body and a
 * garbage token must each be a 4xx with a code, never a 5xx; and a 401 to a bearer token carries
 * WWW-Authenticate (RFC 6750 §3.1). All are sent to REFRESH (and VERIFY), never to LOGIN, so
 * they cannot count as failed logins against the user.
 */

/** 3 MB: above every default body limit seen (baton 16 KB, Django's DATA_UPLOAD_MAX_MEMORY_SIZE 2.5 MB). */
export const HUGE_BODY_BYTES = 3_000_000

/** An unsigned (`alg: none`) refresh token: a verifier must refuse it (SPEC §2). */
const UNSIGNED_TOKEN = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ token_type: 'refresh', jti: 'baton-check', exp: 4_102_444_800, user_id: 1 })}.`

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function judge(id: FindingId, what: string, answer: Answer, flavour: Flavour): CheckFinding {
  if (isClientError(answer)) return finding(id, 'ok', `${what} answered ${describeAnswer(answer)}`, TEXT.badInput.meaning, flavour)
  if (isServerError(answer))
    return finding(id, 'fail', `${what} answered ${describeAnswer(answer)}`, TEXT.serverError.meaning, flavour, TEXT.serverError.fixes)
  return finding(
    id,
    'fail',
    `${what} answered ${describeAnswer(answer)}, not a 4xx`,
    'A request the service cannot understand was not refused as one.',
    flavour,
    'Refuse malformed requests with 400 (415 for a body that is not JSON, 413 for one too large).',
  )
}

export async function probeMalformedJSON(ctx: ProbeContext, flavour: Flavour): Promise<CheckFinding> {
  const answer = await postRaw(ctx, { raw: { body: '{"refresh": ', contentType: 'application/json' } }, 'malformed JSON')
  return judge('malformed-json', 'Malformed JSON', answer, flavour)
}

export async function probeWrongContentType(ctx: ProbeContext, flavour: Flavour): Promise<CheckFinding> {
  const answer = await postRaw(ctx, { raw: { body: 'refresh=not-a-token', contentType: 'text/plain' } }, 'wrong content type')
  return judge('wrong-content-type', 'A text/plain body', answer, flavour)
}

export async function probeHugeBody(ctx: ProbeContext, flavour: Flavour): Promise<CheckFinding> {
  const id = 'huge-body'
  const body = JSON.stringify({ refresh: 'a'.repeat(HUGE_BODY_BYTES) })
  const answer = await postRaw(ctx, { raw: { body, contentType: 'application/json' } }, 'huge body')
  const what = 'A 3 MB body'
  if (answer.status === 413)
    return finding(
      id,
      'ok',
      `${what} answered ${describeAnswer(answer)}`,
      'Oversized requests are refused before they are parsed.',
      flavour,
    )
  if (isClientError(answer))
    return finding(
      id,
      'warn',
      `${what} answered ${describeAnswer(answer)}, not 413: it was read and parsed`,
      TEXT.hugeBodyRead.meaning,
      flavour,
      TEXT.hugeBodyRead.fixes,
    )
  if (answer.status === 0 && answer.network !== 'timeout') {
    return finding(
      id,
      'warn',
      `${what}: the connection was closed without an answer (${answer.network ?? 'network error'})`,
      'Oversized requests are refused, but a client sees a network error rather than 413.',
      flavour,
      'Answer 413 payload_too_large before closing the connection.',
    )
  }
  return judge(id, what, answer, flavour)
}

/** A garbage refresh token, and an unsigned one to VERIFY: both must be refused with a 4xx. */
export async function probeGarbageToken(ctx: ProbeContext, flavour: Flavour): Promise<CheckFinding> {
  const id = 'garbage-token'
  const refresh = await postRaw(ctx, { json: { refresh: 'not-a-token' } }, 'garbage token')
  const verify = await postVerify(ctx, UNSIGNED_TOKEN, 'unsigned token')
  if (verify.status >= 200 && verify.status < 300) {
    return finding(
      id,
      'fail',
      `VERIFY answered ${describeAnswer(verify)} to an unsigned (alg: none) token`,
      'Anyone can forge a token this service calls valid.',
      flavour,
      'Accept only the configured algorithms; never alg: none (SPEC §2).',
    )
  }
  const first = judge(id, 'A garbage refresh token', refresh, flavour)
  if (first.status !== 'ok') return first
  const second = judge(id, 'An unsigned token to VERIFY', verify, flavour)
  if (second.status !== 'ok') return second
  return finding(
    id,
    'ok',
    `A garbage refresh token answered ${describeAnswer(refresh)}; an unsigned (alg: none) token to VERIFY answered ${describeAnswer(verify)}`,
    TEXT.badInput.meaning,
    flavour,
  )
}

/**
 * WWW-Authenticate on the protected resource: the login's access token must get in (else the
 * resource is not one, and nothing is judged), and a garbage bearer token must get a 401 with
 * `Bearer … error="invalid_token"` (RFC 6750 §3.1).
 */
export async function probeWWWAuthenticate(ctx: ProbeContext, flavour: Flavour, access: string): Promise<CheckFinding> {
  const id = 'www-authenticate'
  const url = ctx.target.protected
  if (url === null)
    return finding(id, 'warn', 'Not checked: --protected none', TEXT.protectedUnknown.meaning, flavour, TEXT.protectedUnknown.fix)
  const path = url.pathname
  const valid = await getProtected(ctx, url, access, 'protected resource')
  if (isServerError(valid))
    return finding(
      id,
      'fail',
      `${path} answered ${describeAnswer(valid)} to the login's access token`,
      TEXT.serverError.meaning,
      flavour,
      TEXT.serverError.fixes,
    )
  if (valid.status !== 200) {
    const why = ctx.target.protectedGiven ? '' : ' (the default --protected ../me/)'
    return finding(
      id,
      'warn',
      `Not checked: ${path}${why} answered ${describeAnswer(valid)} to the login's access token`,
      TEXT.protectedUnknown.meaning,
      flavour,
      TEXT.protectedUnknown.fix,
    )
  }
  const garbage = await getProtected(ctx, url, 'not-a-token', 'protected resource, garbage bearer')
  if (garbage.status >= 200 && garbage.status < 300) {
    return finding(
      id,
      'fail',
      `${path} answered ${describeAnswer(garbage)} to a garbage bearer token`,
      'Anyone gets in without a valid token.',
      flavour,
      'Require a valid access token on this resource.',
    )
  }
  if (isServerError(garbage))
    return finding(
      id,
      'fail',
      `${path} answered ${describeAnswer(garbage)} to a garbage bearer token`,
      TEXT.serverError.meaning,
      flavour,
      TEXT.serverError.fixes,
    )
  const header = garbage.headers.get('www-authenticate')
  if (garbage.status !== 401) {
    return finding(
      id,
      'warn',
      `${path} answered ${describeAnswer(garbage)} to a garbage bearer token, not 401`,
      TEXT.wwwAuthenticate.meaning,
      flavour,
      TEXT.wwwAuthenticate.fixes,
    )
  }
  if (header === null)
    return finding(
      id,
      'warn',
      `${path} answered 401 to a garbage bearer token without WWW-Authenticate`,
      TEXT.wwwAuthenticate.meaning,
      flavour,
      TEXT.wwwAuthenticate.fixes,
    )
  const shown = header.length > 120 ? `${header.slice(0, 117)}...` : header
  if (!/^\s*bearer\b/i.test(header) || !/\berror="?invalid_token"?/i.test(header)) {
    return finding(
      id,
      'warn',
      `${path} answered 401 with WWW-Authenticate: ${shown} (no error="invalid_token")`,
      TEXT.wwwAuthenticate.meaning,
      flavour,
      TEXT.wwwAuthenticate.fixes,
    )
  }
  return finding(
    id,
    'ok',
    `${path} answered 401 with WWW-Authenticate: ${shown}`,
    'OAuth clients can tell an invalid token from a missing one.',
    flavour,
  )
}
