import type { RedisURLParts } from '../redis-url.js'
import { PHASES, StopRun, type Check, type ConditionalCheck, type Outcome, type Phase, type Verdict } from './check.js'
import type { BaseContext, Target, TargetKnown } from './context.js'

/**
 * Runs the doctor's checks in order. Each check gets the context the earlier ones built (typed:
 * a check that needs what no earlier check learns does not compile) and adds what it learned.
 * A check that stops the run (`stop`, a `StopRun`) gets its `fail`; every later check that
 * applies to the URL is listed as `skip`.
 *
 * The pipeline is built once, with `Pipeline.start(first).then(…)…`: that chain is the one list of
 * checks, and `NamesOf` derives the check names from it.
 */

/** One check's finding: its verdict with the check's name. */
export type Finding<Name extends string> = { check: Name } & Verdict

export interface PipelineResult<Name extends string> {
  findings: Finding<Name>[]
  /** The Redis the URL names; `null` when the `url` check failed. */
  target: Target | null
}

/** What the runner keeps of a check besides running it: enough to list it as skipped. */
interface StepInfo<Name extends string> {
  readonly name: Name
  readonly phase: Phase
  readonly applies: ((url: RedisURLParts) => boolean) | undefined
}

/** The run stopped at the step `at`, whose check is `check`. */
class Stopped {
  readonly at: number
  readonly check: string
  readonly target: Target | null
  constructor(at: number, check: string, target: Target | null) {
    this.at = at
    this.check = check
    this.target = target
  }
}

/** Runs every step so far: the context after the last one, or where the run stopped. */
type Stage<Ctx, Names extends string> = (base: BaseContext, add: (f: Finding<Names>) => void) => Promise<Ctx | Stopped>

export class Pipeline<Ctx extends TargetKnown, Names extends string> {
  readonly #steps: readonly StepInfo<Names>[]
  readonly #stage: Stage<Ctx, Names>

  private constructor(steps: readonly StepInfo<Names>[], stage: Stage<Ctx, Names>) {
    this.#steps = steps
    this.#stage = stage
  }

  /** A pipeline whose first check reads the URL: every later check knows the target. */
  static start<N extends string>(first: Check<N, BaseContext, TargetKnown>): Pipeline<BaseContext & TargetKnown, N> {
    const stage: Stage<BaseContext & TargetKnown, N> = async (base, add) => {
      const learned = await attempt(first.name, () => first.run(base), add)
      return learned === null ? new Stopped(0, first.name, null) : { ...base, ...learned }
    }
    return new Pipeline([{ name: first.name, phase: first.phase, applies: undefined }], stage)
  }

  /** Adds a check that always runs. */
  then<N extends string, L extends object>(check: Check<N, Ctx, L>): Pipeline<Ctx & L, Names | N> {
    return this.#extend({ name: check.name, phase: check.phase, applies: undefined }, check.run)
  }

  /** Adds a check that runs only for the URLs it applies to; what it learns is optional after it. */
  thenIf<N extends string, L extends object>(check: ConditionalCheck<N, Ctx, L>): Pipeline<Ctx & Partial<L>, Names | N> {
    const passedOver: Outcome<Partial<L>> = { verdict: null, learned: {} }
    return this.#extend({ name: check.name, phase: check.phase, applies: check.applies }, (ctx: Ctx) =>
      check.applies(ctx.target.parts) ? check.run(ctx) : Promise.resolve(passedOver),
    )
  }

  /** Runs every check; never throws for a check's expected failure. */
  async run(base: BaseContext): Promise<PipelineResult<Names>> {
    const findings: Finding<Names>[] = []
    const end = await this.#stage(base, (f) => findings.push(f))
    if (!(end instanceof Stopped)) return { findings, target: end.target }
    for (const later of this.#steps.slice(end.at + 1)) {
      // A conditional check is listed only when the URL is known and it applies to it.
      if (later.applies !== undefined && (end.target === null || !later.applies(end.target.parts))) continue
      findings.push({
        check: later.name,
        status: 'skip',
        message: `skipped: the ${end.check} check failed`,
        meaning: 'Not checked; fix the failure above first.',
      })
    }
    return { findings, target: end.target }
  }

  #extend<N extends string, L extends object>(info: StepInfo<N>, run: (ctx: Ctx) => Promise<Outcome<L>>): Pipeline<Ctx & L, Names | N> {
    const last = this.#steps.at(-1)
    if (last !== undefined && PHASES.indexOf(info.phase) < PHASES.indexOf(last.phase)) {
      throw new Error(`doctor: check ${info.name} (${info.phase}) is listed after ${last.name} (${last.phase})`)
    }
    const at = this.#steps.length
    const previous = this.#stage
    const stage: Stage<Ctx & L, Names | N> = async (base, add) => {
      const ctx = await previous(base, add)
      if (ctx instanceof Stopped) return ctx
      const learned = await attempt(info.name, () => run(ctx), add)
      return learned === null ? new Stopped(at, info.name, ctx.target) : { ...ctx, ...learned }
    }
    return new Pipeline<Ctx & L, Names | N>([...this.#steps, info], stage)
  }
}

/** The check names of a pipeline, as a union type. */
export type NamesOf<P> = P extends Pipeline<infer _Ctx, infer N> ? N : never

/** Runs one check and records its verdict: what it learned, or `null` when it stopped the run. */
async function attempt<N extends string, L>(name: N, run: () => Promise<Outcome<L>>, add: (f: Finding<N>) => void): Promise<L | null> {
  try {
    const { verdict, learned } = await run()
    if (verdict !== null) add({ check: name, ...verdict })
    return learned
  } catch (err) {
    if (!(err instanceof StopRun)) throw err
    add({ check: name, ...err.verdict })
    return null
  }
}
