import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DeadlineExceeded, withDeadline } from '../../src/deadline.js'
import { defineCheck, defineConditionalCheck, report, stop } from '../../src/doctor/check.js'
import { url } from '../../src/doctor/checks/config.js'
import { SocketPool, type BaseContext, type TargetKnown } from '../../src/doctor/context.js'
import { Pipeline } from '../../src/doctor/pipeline.js'

/** The real `url` check starts every pipeline; the checks after it are small ones written here. */
function base(rawURL: string | undefined): BaseContext {
  const settings = { timeoutMs: 100, storeTimeoutMs: 500, clusterConfigured: false, tlsCA: undefined, tlsCAFile: undefined }
  return { settings, deps: { lookup: () => Promise.resolve([]) }, pool: new SocketPool(), rawURL }
}

const ran: string[] = []

const count = defineCheck({
  name: 'count',
  phase: 'network',
  async run(ctx: TargetKnown) {
    ran.push('count')
    return { verdict: { status: 'ok', message: `port ${ctx.target.parts.port}`, meaning: '' }, learned: { port: ctx.target.parts.port } }
  },
})

const onlyTLS = defineConditionalCheck({
  name: 'only-tls',
  phase: 'network',
  applies: (u) => u.tls,
  async run() {
    ran.push('only-tls')
    return { verdict: { status: 'ok', message: 'tls', meaning: '' }, learned: { secure: true } }
  },
})

/** Stops the run when the port is 1; reads what `count` learned (and `only-tls`, as optional). */
const gate = defineCheck({
  name: 'gate',
  phase: 'session',
  async run(ctx: { port: number; secure?: boolean }) {
    ran.push('gate')
    if (ctx.port === 1) stop({ message: 'port 1', meaning: 'no' })
    return report({ status: 'warn', message: `secure ${String(ctx.secure ?? false)}`, meaning: '' })
  },
})

const onlyDB = defineConditionalCheck({
  name: 'only-db',
  phase: 'data',
  applies: (u) => u.db > 0,
  async run() {
    ran.push('only-db')
    return report(null)
  },
})

const last = defineCheck({
  name: 'last',
  phase: 'data',
  async run() {
    ran.push('last')
    return report({ status: 'ok', message: 'last', meaning: '' })
  },
})

const PIPE = Pipeline.start(url).then(count).thenIf(onlyTLS).then(gate).thenIf(onlyDB).then(last)

async function run(rawURL: string | undefined): Promise<{ ran: string[]; findings: string[]; target: string | null }> {
  ran.length = 0
  const result = await PIPE.run(base(rawURL))
  return {
    ran: [...ran],
    findings: result.findings.map((f) => `${f.check}:${f.status}:${f.message}`),
    target: result.target?.maskedURL ?? null,
  }
}

describe('doctor pipeline', () => {
  test('each check sees what the earlier ones learned; a conditional check that does not apply is neither run nor listed', async () => {
    const plain = await run('redis://:pw@h:6379')
    assert.deepEqual(plain.ran, ['count', 'gate', 'last'])
    assert.deepEqual(plain.findings.slice(1), ['count:ok:port 6379', 'gate:warn:secure false', 'last:ok:last'])
    assert.equal(plain.target, 'redis://:****@h:6379')
    const tls = await run('rediss://h:6380/2')
    assert.deepEqual(tls.ran, ['count', 'only-tls', 'gate', 'only-db', 'last'])
    assert.deepEqual(tls.findings.slice(1), ['count:ok:port 6380', 'only-tls:ok:tls', 'gate:warn:secure true', 'last:ok:last'])
  })

  test('a stop records the fail for the running check, runs nothing after it, and lists as skip only the later checks that apply', async () => {
    assert.deepEqual((await run('redis://h:1')).findings.slice(1), [
      'count:ok:port 1',
      'gate:fail:port 1',
      'last:skip:skipped: the gate check failed',
    ])
    const withDB = await run('redis://h:1/3')
    assert.deepEqual(withDB.ran, ['count', 'gate'])
    assert.deepEqual(withDB.findings.slice(2), [
      'gate:fail:port 1',
      'only-db:skip:skipped: the gate check failed',
      'last:skip:skipped: the gate check failed',
    ])
  })

  test('when the url check stops, the URL is unknown: conditional checks are not listed', async () => {
    const none = await run(undefined)
    assert.deepEqual(none.ran, [])
    assert.equal(none.target, null)
    assert.deepEqual(
      none.findings.map((f) => f.split(':').slice(0, 2).join(':')),
      ['url:fail', 'count:skip', 'gate:skip', 'last:skip'],
    )
  })

  test('an unexpected error is not a finding: it escapes the pipeline', async () => {
    const broken = defineCheck({
      name: 'broken',
      phase: 'data',
      run: () => Promise.reject(new TypeError('bug')),
    })
    await assert.rejects(Pipeline.start(url).then(broken).run(base('redis://h:1')), TypeError)
  })

  test('a check listed after a later phase is refused when the pipeline is built', () => {
    const early = defineCheck({ name: 'early', phase: 'network', run: () => Promise.resolve(report(null)) })
    assert.throws(() => Pipeline.start(url).then(last).then(early), /check early \(network\) is listed after last \(data\)/)
  })
})

/** Never called: the compiler (root tsconfig) checks that a check's needs are met by earlier checks. */
export function typeChecks(): void {
  // @ts-expect-error gate needs `port`, which only count learns
  Pipeline.start(url).then(gate)
  // @ts-expect-error a conditional check goes through thenIf
  Pipeline.start(url).then(onlyTLS)
  // prettier-ignore
  // @ts-expect-error after thenIf, what only-tls learns is optional
  Pipeline.start(url).thenIf(onlyTLS).then(defineCheck({ name: 'x', phase: 'data', run: (ctx: { secure: boolean }) => Promise.resolve(report(null)) }))
}

describe('withDeadline', () => {
  test('settles as the promise does when it is in time', async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 1000), 7)
    await assert.rejects(withDeadline(Promise.reject(new RangeError('no')), 1000), RangeError)
  })

  test('rejects with DeadlineExceeded (code TIMEOUT) once the time is up, or with the error the caller makes', async () => {
    const never = new Promise<never>(() => {})
    await assert.rejects(
      withDeadline(never, 20),
      (err: unknown) => err instanceof DeadlineExceeded && err.code === 'TIMEOUT' && err.ms === 20,
    )
    await assert.rejects(
      withDeadline(never, 20, (ms) => new RangeError(`late ${ms}`)),
      /late 20/,
    )
  })

  test('a rejection after the deadline is handled, not left unhandled', async () => {
    let unhandled = 0
    const onUnhandled = (): void => {
      unhandled++
    }
    process.on('unhandledRejection', onUnhandled)
    try {
      const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late')), 40))
      await assert.rejects(withDeadline(late, 10), DeadlineExceeded)
      await new Promise((resolve) => setTimeout(resolve, 80))
      assert.equal(unhandled, 0)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
