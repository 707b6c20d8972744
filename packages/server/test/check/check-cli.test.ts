import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isLoopback, resolveTarget } from '../../src/check/target.js'
import { runCLI } from '../cli/run-cli.js'
import { type ListeningBaton, runCheck, startBaton } from './check-helpers.js'

const PASSWORD = 'Sp3cial-pass-word'

/** `baton check …` as a user runs it (the CLI through tsx), `input` piped to standard input. */
const spawnCheck = (args: string[], input: string) => runCLI(['check', ...args], {}, { input })

describe('baton check: the command line', () => {
  let baton: ListeningBaton
  before(async () => {
    baton = await startBaton({}, 'cli-user', PASSWORD)
  })
  after(() => baton.close())

  test('check: plain http:// to a host that is not loopback is refused before any request (exit 2)', async () => {
    const run = await runCheck(['http://203.0.113.7/api/auth/', '--username', 'u', '--password-stdin'], { stdin: PASSWORD })
    assert.equal(run.code, 2)
    assert.match(run.stderr, /refusing to send a password over plain http:\/\/ to a host that is not loopback/)
    assert.equal(run.stdout, '')
    assert.equal(run.requests, 0)
    assert.ok(!run.stderr.includes(PASSWORD))
  })

  test('check: the password is never a flag, and the refusal does not echo it (exit 2)', async () => {
    for (const args of [['--password=hunter2-secret'], ['--password', 'hunter2-secret'], ['-p', 'hunter2-secret']]) {
      const run = await runCheck([baton.url, '--username', 'u', ...args])
      assert.equal(run.code, 2)
      assert.match(run.stderr, /the password is never a flag/)
      assert.ok(!(run.stdout + run.stderr).includes('hunter2-secret'))
    }
  })

  test('check: without --password-stdin and no terminal, it says how to pipe the password (exit 2)', async () => {
    const run = await runCheck([baton.url, '--username', 'u'])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /pipe it in with --password-stdin/)
  })

  test('check: usage errors are exit 2 (missing URL, username, bad --paths, --grace-seconds, paths leaving the origin)', async () => {
    const cases: [string[], RegExp][] = [
      [['--username', 'u', '--password-stdin'], /missing URL/],
      [[baton.url, '--password-stdin'], /--username is required/],
      [[baton.url, '-u', 'u', '--password-stdin', '--paths', 'a/,b/'], /four comma-separated paths/],
      [[baton.url, '-u', 'u', '--password-stdin', '--grace-seconds', 'soon'], /--grace-seconds/],
      // Past AbortSignal.timeout's range every request would fail as if the target were down.
      [[baton.url, '-u', 'u', '--password-stdin', '--timeout', '99999999999'], /--timeout/],
      [
        [baton.url, '-u', 'u', '--password-stdin', '--paths', 'token/,https://elsewhere.example/r/,verify/,logout/'],
        /leaves http:\/\/127\.0\.0\.1/,
      ],
      [[baton.url, '-u', 'u', '--password-stdin', '--protected', '//elsewhere.example/me/'], /--protected: .* leaves/],
      [['ftp://127.0.0.1/', '-u', 'u', '--password-stdin'], /only http:\/\/ and https:\/\//],
      [[baton.url, '-u', 'u', '--password-stdin', '--bogus'], /Unknown option '--bogus'/],
    ]
    for (const [args, message] of cases) {
      const run = await runCheck(args, { stdin: PASSWORD })
      assert.equal(run.code, 2, args.join(' '))
      assert.match(run.stderr, message)
    }
  })

  test('check: userinfo in the URL is masked wherever the target is printed, and never sent', async () => {
    const url = baton.url.replace('http://', 'http://admin:url-secret-99@')
    const run = await runCheck([url, '-u', 'cli-user', '--password-stdin', '--json'], { stdin: PASSWORD, server: baton.server })
    const report = JSON.parse(run.stdout) as { target: string }
    assert.equal(
      report.target,
      baton.url.replace('http://', 'http://admin:****@'),
      'the one masking policy: the user name shown, the password masked',
    )
    assert.ok(!(run.stdout + run.stderr).includes('url-secret-99'))
    assert.equal(run.code, 0, run.stdout)
    assert.ok(run.requests > 20, 'the check ran against the URL without its userinfo')
  })

  test('check: the CLI reads --password-stdin, prints one JSON object and exits 1 when a check fails', async () => {
    // The real process: the password through a pipe. With --grace-seconds 0 the replay lands
    // inside baton's grace window (the check cannot wait on this server's fake clock), so
    // rotation and reuse detection fail: a real failing run, through the real exit code.
    const run = await spawnCheck(
      [baton.url, '--username', 'cli-user', '--password-stdin', '--json', '--grace-seconds', '0'],
      `${PASSWORD}\n`,
    )
    assert.equal(run.code, 1, run.stderr)
    const report = JSON.parse(run.stdout) as { findings: { id: string; status: string }[]; requests: number }
    assert.deepEqual(
      report.findings.filter((f) => f.status !== 'ok').map((f) => f.id),
      ['rotation', 'reuse-detection'],
    )
    assert.equal(report.findings.find((f) => f.id === 'login')!.status, 'ok', 'the piped password logged in')
    assert.ok(report.requests < 100)
    assert.equal(run.stdout.trim().split('\n').length, 1, 'one JSON object on one line')
    assert.ok(!(run.stdout + run.stderr).includes(PASSWORD))
    assert.doesNotMatch(run.stdout + run.stderr, /eyJ[A-Za-z0-9_-]+\./)
  })

  test('check: the CLI refuses http:// to a remote host with exit 2, and --help exits 0', async () => {
    const refused = await spawnCheck(['http://203.0.113.7/api/', '--username', 'u', '--password-stdin'], PASSWORD)
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /refusing to send a password over plain http:\/\//)
    const help = await spawnCheck(['--help'], '')
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Usage: baton check URL/)
  })
})

describe('baton check: target resolution', () => {
  test('resolveTarget: baton\u2019s default paths and ../me/, Django\u2019s paths, --insecure, loopback names', () => {
    const baton = resolveTarget({ url: 'https://host.example/api/auth' })
    assert.equal(baton.kind, 'ok')
    if (baton.kind !== 'ok') return
    assert.deepEqual(
      [baton.target.login, baton.target.refresh, baton.target.verify, baton.target.blacklist, baton.target.protected].map((u) => u?.href),
      [
        'https://host.example/api/auth/token/',
        'https://host.example/api/auth/refresh/',
        'https://host.example/api/auth/verify/',
        'https://host.example/api/auth/logout/',
        'https://host.example/api/me/',
      ],
    )
    const django = resolveTarget({
      url: 'https://host.example/api/',
      paths: 'token/,token/refresh/,token/verify/,token/blacklist/',
      protected: 'none',
    })
    assert.equal(django.kind === 'ok' && django.target.blacklist.href, 'https://host.example/api/token/blacklist/')
    assert.equal(django.kind === 'ok' && django.target.protected, null)
    assert.equal(resolveTarget({ url: 'http://host.example/api/' }).kind, 'usage')
    assert.equal(resolveTarget({ url: 'http://host.example/api/', insecure: true }).kind, 'ok')
    for (const host of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]']) assert.equal(isLoopback(host), true, host)
    for (const host of ['localhost.example', '10.0.0.1', '128.0.0.1', '[::2]', 'example.com']) assert.equal(isLoopback(host), false, host)
    const masked = resolveTarget({ url: 'https://user:pw-xyz@host.example/api/' })
    assert.equal(masked.kind === 'ok' && masked.target.shown, 'https://user:****@host.example/api/')
    assert.equal(masked.kind === 'ok' && masked.target.login.href, 'https://host.example/api/token/')
  })
})

describe('baton check: the report', () => {
  test('the masking policy over the report: a token or password that reached the text is masked, in JSON escapes too; exit code 1 only on a failure', async () => {
    const { exitCodeOf, formatJSON } = await import('../../src/check/report.js')
    const { maskSecrets } = await import('../../src/secrets.js')
    const report = {
      target: 'https://h/api/',
      findings: [{ id: 'login' as const, status: 'warn' as const, title: 'saw eyJa.eyJb.sig and pa"ss-word', meaning: 'm', fix: 'f' }],
      requests: 3,
    }
    const out = maskSecrets(formatJSON(report), ['eyJa.eyJb.sig', 'pa"ss-word'])
    assert.ok(!out.includes('eyJa.eyJb.sig') && !out.includes('pa\\"ss-word'), out)
    assert.equal(JSON.parse(out).findings[0].title, 'saw **** and ****')
    assert.equal(exitCodeOf(report), 0)
    assert.equal(exitCodeOf({ ...report, findings: [{ ...report.findings[0]!, status: 'fail' }] }), 1)
  })
})
