import type { RedisURLParts } from '../redis-url.js'

/**
 * The shape of one `baton doctor` check (SPEC §7). A check answers one question about the Redis
 * that `REDIS_URL` names; it reads what earlier checks learned from its context and hands on what
 * it learned itself. The order they run in is the one list in `checks.ts`; `pipeline.ts` runs it.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip'

/**
 * The phases, in the order they run: read the URL, reach the port, speak Redis with it, read the
 * server's settings, use it as baton does. The pipeline refuses a check listed after a later phase.
 */
export const PHASES = ['config', 'network', 'session', 'server', 'data'] as const
export type Phase = (typeof PHASES)[number]

/**
 * What one check found, before the pipeline stamps the check's name on it. It may quote a server's
 * or a library's text: `runDoctor` masks the URL's secrets in every field before reporting it.
 */
export interface Verdict {
  status: CheckStatus
  /** What was found. */
  message: string
  /** What it means for baton. */
  meaning: string
  /** What to do, for `warn` and `fail`. */
  fix?: string
  /** How long the check took, where timing is the point (connect, handshake, round trips). */
  ms?: number
}

/** What a check that only reports learns. */
export type Nothing = Record<never, never>

/** A check that lets the run go on: its verdict (none: nothing to report) and what it learned. */
export interface Outcome<Learned> {
  readonly verdict: Verdict | null
  readonly learned: Learned
}

/** What every check has: its name (written only here, in its definition: `CheckName` is derived), its phase, and what it does. */
interface CheckBase<Name extends string, In, Learned extends object> {
  readonly name: Name
  readonly phase: Phase
  /** A property, not a method: so the compiler holds `In` to what earlier checks provide. */
  readonly run: (ctx: In) => Promise<Outcome<Learned>>
}

/**
 * One check. `In` is the context it needs (the pipeline's types see to it that earlier checks
 * provide it); `Learned` is what it adds for the checks after it.
 */
export interface Check<Name extends string, In, Learned extends object = Nothing> extends CheckBase<Name, In, Learned> {
  readonly applies?: never
}

/**
 * A check that runs only for URLs `applies` is true for (TLS only for rediss://), and is not
 * listed at all otherwise, skipped or not. It may be passed over, so the checks after it see
 * what it learns as optional.
 */
export interface ConditionalCheck<Name extends string, In, Learned extends object = Nothing> extends CheckBase<Name, In, Learned> {
  readonly applies: (url: RedisURLParts) => boolean
}

/** Types a check, keeping its name as a literal type (the pipeline derives `CheckName` from it). */
export function defineCheck<Name extends string, In, Learned extends object = Nothing>(
  check: Check<Name, In, Learned>,
): Check<Name, In, Learned> {
  return check
}

/** `defineCheck` for a check that applies only to some URLs. */
export function defineConditionalCheck<Name extends string, In, Learned extends object = Nothing>(
  check: ConditionalCheck<Name, In, Learned>,
): ConditionalCheck<Name, In, Learned> {
  return check
}

/**
 * Thrown (through `stop`) by a check, or by a helper it calls, when a failure makes every later
 * check meaningless (no address, no connection, no protocol, no auth). The pipeline records the
 * verdict for the check that was running and lists the rest as `skip`. Never escapes the pipeline.
 */
export class StopRun extends Error {
  readonly code = 'doctor_stop'
  readonly verdict: Verdict
  constructor(verdict: Verdict) {
    super(verdict.message)
    this.name = 'StopRun'
    this.verdict = verdict
  }
}

/** Records `verdict` (a `fail`) for the running check and stops the run. */
export function stop(verdict: Omit<Verdict, 'status'>): never {
  throw new StopRun({ status: 'fail', ...verdict })
}

/** The outcome of a check that learned nothing. */
export function report(verdict: Verdict | null): Outcome<Nothing> {
  return { verdict, learned: {} }
}
