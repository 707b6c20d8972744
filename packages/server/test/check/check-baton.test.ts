import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MAX_REQUESTS } from '../../src/check/runner.js'
import { type ListeningBaton, findingsById, JWS_IN_TEXT, runCheck, startBaton } from './check-helpers.js'

const PASSWORD = 'Corr3ct-horse-battery'

describe('baton check against baton (defaults: grace 15 s, rotation on)', () => {
  let baton: ListeningBaton
  before(async () => {
    baton = await startBaton({}, 'checker', PASSWORD)
  })
  after(() => baton.close())

  test('check: every finding is ok, exit 0, under 100 requests, and no session is left behind', async () => {
    const run = await runCheck([baton.url, '--username', 'checker', '--password-stdin', '--json'], {
      stdin: `${PASSWORD}\n`,
      server: baton.server,
    })
    const report = JSON.parse(run.stdout) as {
      target: string
      findings: { id: string; status: string; title: string; meaning: string; fix: string }[]
      requests: number
    }
    assert.deepEqual(Object.keys(report), ['target', 'findings', 'requests'])
    assert.equal(report.target, baton.url)
    const notOk = report.findings.filter((f) => f.status !== 'ok')
    assert.deepEqual(notOk, [], run.stdout)
    assert.equal(run.code, 0)
    assert.deepEqual(
      report.findings.map((f) => f.id),
      [
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
      ],
    )
    for (const f of report.findings) assert.deepEqual(Object.keys(f), ['id', 'status', 'title', 'meaning', 'fix'])
    assert.ok(report.requests > 20 && report.requests < MAX_REQUESTS, `requests: ${report.requests}`)
    // The waits moved the server's clock past the grace window: reuse was detected as such.
    assert.match(findingsById(run.stdout).get('reuse-detection')!.title, /token_reused.*token_revoked/)
    assert.match(findingsById(run.stdout).get('lost-response-retry')!.title, /same successor/)
    assert.match(run.stderr, /waiting 20 s for the grace window/)
    // The check logged out every session it opened.
    assert.deepEqual(await baton.store.listUserSessions(baton.userId, baton.server.clock.now()), [])
    // No token and no password in anything printed.
    assert.ok(run.tokens.size > 10)
    for (const token of run.tokens) assert.ok(!run.stdout.includes(token) && !run.stderr.includes(token))
    assert.doesNotMatch(run.stdout + run.stderr, JWS_IN_TEXT)
    assert.ok(!(run.stdout + run.stderr).includes(PASSWORD))
  })

  test('check: human output is aligned, without colours when not a terminal, with them on one', async () => {
    const plain = await runCheck([baton.url, '-u', 'checker', '--password-stdin', '--grace-seconds', '16'], {
      stdin: PASSWORD,
      server: baton.server,
    })
    assert.equal(plain.code, 0)
    const lines = plain.stdout.split('\n')
    assert.equal(lines[0], `baton check: ${baton.url}`)
    const rows = lines.filter((l) => /^[✔!✘] /.test(l))
    assert.equal(rows.length, 15)
    const column = rows.map((l) => l.search(/ {2}\S/))
    assert.equal(new Set(column).size, 1, 'titles start in one column')
    assert.doesNotMatch(plain.stdout, /\u001b\[/)
    assert.match(lines.at(-2)!, /^0 failed, 0 warnings, 15 ok; \d+ requests\.$/)
    assert.match(plain.stderr, /waiting 16 s/)

    const tty = await runCheck([baton.url, '-u', 'checker', '--password-stdin'], { stdin: PASSWORD, server: baton.server, isTTY: true })
    assert.match(tty.stdout, /\u001b\[32m✔\u001b\[0m login/)
    const noColor = await runCheck([baton.url, '-u', 'checker', '--password-stdin'], {
      stdin: PASSWORD,
      server: baton.server,
      isTTY: true,
      env: { NO_COLOR: '1' },
    })
    assert.doesNotMatch(noColor.stdout, /\u001b\[/)
  })

  test('check: a wrong password is one failed login finding, exit 1, and the password is not printed', async () => {
    const run = await runCheck([baton.url, '--username', 'checker', '--password-stdin', '--json'], {
      stdin: 'wrong-password-123',
      server: baton.server,
    })
    assert.equal(run.code, 1)
    const findings = findingsById(run.stdout)
    assert.equal(findings.get('login')!.status, 'fail')
    assert.match(findings.get('login')!.title, /401 invalid_credentials/)
    // The checks that need no session still ran.
    assert.equal(findings.get('malformed-json')!.status, 'ok')
    assert.equal(findings.has('rotation'), false)
    assert.ok(!(run.stdout + run.stderr).includes('wrong-password-123'))
  })
})

describe('baton check against baton without a grace window (REFRESH_GRACE_SECONDS=0)', () => {
  let baton: ListeningBaton
  before(async () => {
    baton = await startBaton({ REFRESH_GRACE_SECONDS: '0' }, 'nograce', PASSWORD)
  })
  after(() => baton.close())

  test('check: the lost-response retry is reuse (the user is logged out): fail, exit 1; parallel losers warn', async () => {
    const run = await runCheck([baton.url, '--username', 'nograce', '--password-stdin', '--json', '--grace-seconds', '1'], {
      stdin: PASSWORD,
      server: baton.server,
    })
    assert.equal(run.code, 1)
    const findings = findingsById(run.stdout)
    const retry = findings.get('lost-response-retry')!
    assert.equal(retry.status, 'fail')
    assert.match(retry.title, /401 token_reused: the user is logged out/)
    assert.match(retry.fix, /REFRESH_GRACE_SECONDS above 0/, 'baton tokens get baton\u2019s fix')
    const parallel = findings.get('double-spend')!
    assert.equal(parallel.status, 'warn')
    assert.match(parallel.title, /1 answered 200, 5 answered 401 token_reused; no double spend in 3 rounds/)
    // Reuse revoked the session at the retry already: the replay is refused, the family ended.
    assert.equal(findings.get('reuse-detection')!.status, 'ok')
    assert.equal(findings.get('rotation')!.status, 'ok')
  })
})

describe('baton check against baton with rotation off (ROTATE_REFRESH_TOKENS=false)', () => {
  let baton: ListeningBaton
  before(async () => {
    baton = await startBaton({ ROTATE_REFRESH_TOKENS: 'false' }, 'norotate', PASSWORD)
  })
  after(() => baton.close())

  test('check: no rotation is a warning (rotation, reuse detection), nothing fails, exit 0', async () => {
    const run = await runCheck([baton.url, '--username', 'norotate', '--password-stdin', '--json'], {
      stdin: PASSWORD,
      server: baton.server,
    })
    const findings = findingsById(run.stdout)
    assert.equal(findings.get('rotation')!.status, 'warn')
    assert.match(findings.get('rotation')!.fix, /ROTATE_REFRESH_TOKENS=true/)
    assert.equal(findings.get('reuse-detection')!.status, 'warn')
    assert.equal(findings.get('lost-response-retry')!.status, 'ok')
    assert.equal(findings.get('double-spend')!.status, 'ok')
    assert.equal(run.code, 0, run.stdout)
    assert.doesNotMatch(run.stderr, /waiting/, 'no replay, so no wait')
  })
})
