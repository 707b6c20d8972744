/**
 * Issue 15, a login storm: everyone logged out at once logs in at once, and each password check
 * costs ~0.4 s of scrypt by design. At most BATON_LOGIN_CONCURRENCY checks run, at most
 * BATON_LOGIN_QUEUE logins wait (for at most BATON_LOGIN_QUEUE_MS), the rest are answered at
 * once with 503 `login_busy` and Retry-After; a login whose client closed its connection leaves
 * the queue unchecked; a shed login gives its rate-limit attempt back; refresh and protected
 * routes never wait behind the queue.
 *
 * A real server on a socket (a closed connection is the point), real fetch clients. The checker
 * is instrumented: every check is counted and held at a door the test opens, so what ran, what
 * waited and what was sent away is counted, never timed.
 */
import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { createAuthClient, isHTTPError } from '@baton/client'
import { createCredentialChecker } from '../../src/users/checker.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { hashPassword, verifyPassword } from '../../src/users/password.js'
import { type TestServer, TEST_SCRYPT, createTestServer } from '../helpers/make-server.js'
import { waitFor } from '../helpers/redis-server.js'

interface Answer {
  status: number
  code: string | undefined
  retryAfter: string | null
  body: Record<string, unknown>
}

interface Storm {
  server: TestServer
  url: string
  /** Passwords that reached scrypt, in order. */
  checked: string[]
  /** Milliseconds each check moves the server's clock by (a check that took that long). */
  clockInCheck: number
  /** The most checks that ran at once. */
  maxRunning(): number
  /** Shuts the door: checks that start from now wait until `open()`. */
  hold(): void
  open(): void
  addUser(name: string, password: string): Promise<void>
  post(path: string, body: unknown, options?: { signal?: AbortSignal; bearer?: string }): Promise<Answer>
  get(path: string, bearer: string): Promise<Answer>
  /** A number from /metrics, e.g. `baton_login_queue{state="waiting"}`. */
  metric(series: string): Promise<number>
}

const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** No request may hang: each has a deadline far beyond any honest answer, and fails at it. */
const NO_HANG_MS = 60_000

async function storm(env: Record<string, string>): Promise<Storm> {
  const users = createMemoryUserStore()
  const checked: string[] = []
  let running = 0
  let maxRunning = 0
  let door: Promise<void> | null = null
  let release = (): void => {}
  const credentials = createCredentialChecker(users, {
    params: TEST_SCRYPT,
    async verify(password, hash) {
      checked.push(password)
      running++
      maxRunning = Math.max(maxRunning, running)
      try {
        await door
        server.clock.advance(self.clockInCheck)
        return await verifyPassword(password, hash)
      } finally {
        running--
      }
    },
  })
  const server = await createTestServer({ LOGIN_RATE_LIMIT_IP: 'off', ...env }, { users, credentials })
  servers.push(server)
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const address = server.app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`

  async function send(
    method: string,
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; bearer?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`
    const deadline = AbortSignal.timeout(NO_HANG_MS)
    const res = await fetch(url + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]),
    })
    const json = (await res.json()) as Record<string, unknown>
    return {
      status: res.status,
      code: typeof json.code === 'string' ? json.code : undefined,
      retryAfter: res.headers.get('retry-after'),
      body: json,
    }
  }

  const self: Storm = {
    server,
    url,
    checked,
    clockInCheck: 0,
    maxRunning: () => maxRunning,
    hold() {
      door = new Promise((resolve) => (release = resolve))
    },
    open() {
      release()
      door = null
    },
    async addUser(name, password) {
      const out = await users.createUser({
        username: name,
        passwordHash: await hashPassword(password, TEST_SCRYPT),
        now: server.clock.now(),
      })
      assert.equal(out.kind, 'created')
    },
    post: (path, body, options) => send('POST', path, body, options),
    get: (path, bearer) => send('GET', path, undefined, { bearer }),
    async metric(series) {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(NO_HANG_MS) })).text()
      const line = text.split('\n').find((l) => l.startsWith(`${series} `))
      return line === undefined ? 0 : Number(line.slice(series.length + 1))
    },
  }
  return self
}

function tally(answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const a of answers) {
    const k = `${a.status} ${a.code ?? ''}`.trim()
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}

function assertBusy(a: Answer): void {
  assert.equal(a.status, 503)
  assert.equal(a.code, 'login_busy')
  assert.equal(a.body.detail, 'Too many logins at once; retry shortly.')
  assert.match(a.retryAfter ?? '', /^[1-9][0-9]*$/, 'Retry-After in whole seconds')
}

const WAITING = 'baton_login_queue{state="waiting"}'

test(
  'login storm: 200 logins at once with 2 checks in flight and 8 waiting: 10 checked, 190 answered 503 login_busy at once; refresh, /api/me/ and a later login are unaffected',
  { timeout: 120_000 },
  async () => {
    const s = await storm({ BATON_LOGIN_CONCURRENCY: '2', BATON_LOGIN_QUEUE: '8', BATON_LOGIN_QUEUE_MS: '60000' })
    const N = 200
    for (let i = 0; i < N; i++) await s.addUser(`u${i}`, `pw-${i}`)
    await s.addUser('ada', 'ada-password')
    // A session from before the storm (the door is open: it is checked at once).
    const before = await s.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })
    assert.equal(before.status, 200)
    s.checked.length = 0

    s.hold()
    const answered: Answer[] = []
    const pending = Array.from({ length: N }, (_, i) =>
      s.post('/api/auth/token/', { username: `u${i}`, password: `pw-${i}` }).then((a) => {
        answered.push(a)
        return a
      }),
    )
    // Two checks run (held), eight wait, and every other login has been answered already.
    await waitFor(() => s.checked.length === 2 && answered.length === N - 10, 60_000, 'two checks and 190 answers')
    assert.equal(await s.metric(WAITING), 8)
    for (const a of answered) assertBusy(a)

    // During the storm: refresh and the protected route do not wait behind the password checks.
    const refreshed = await s.post('/api/auth/refresh/', { refresh: before.body.refresh })
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body))
    assert.equal((await s.get('/api/me/', String(refreshed.body.access))).status, 200)
    const again = await s.post('/api/auth/refresh/', { refresh: refreshed.body.refresh })
    assert.equal(again.status, 200)

    // The client library: a typed HTTPError with the code and Retry-After, and no retry by itself.
    let calls = 0
    const client = createAuthClient({
      baseURL: s.url,
      fetch: (input, init) => {
        calls++
        return fetch(input, init)
      },
    })
    const rejected = await client.login({ username: 'ada', password: 'ada-password' }).then(
      () => assert.fail('login should be refused during the storm'),
      (err: unknown) => err,
    )
    assert.ok(isHTTPError(rejected), String(rejected))
    assert.equal(rejected.status, 503)
    assert.equal(rejected.code, 'login_busy')
    assert.ok(rejected.retryAfter !== undefined && rejected.retryAfter >= 1, `retryAfter ${rejected.retryAfter}`)
    assert.equal(calls, 1)

    s.open()
    const all = await Promise.all(pending)
    assert.deepEqual(tally(all), { '200': 10, '503 login_busy': 190 })
    assert.equal(s.checked.length, 10)
    assert.equal(s.maxRunning(), 2)
    assert.equal(await s.metric('baton_login_total{outcome="login_busy"}'), 191)

    // After the storm: a login is checked at once and succeeds; nothing is left waiting.
    assert.equal(await s.metric(WAITING), 0)
    const after = await s.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })
    assert.equal(after.status, 200)
    assert.equal(s.checked.length, 11)
  },
)

test('login storm: logins whose clients close the connection while waiting are never checked', { timeout: 120_000 }, async () => {
  const s = await storm({ BATON_LOGIN_CONCURRENCY: '1', BATON_LOGIN_QUEUE: '10', BATON_LOGIN_QUEUE_MS: '60000' })
  for (let i = 0; i < 11; i++) await s.addUser(`u${i}`, `pw-${i}`)
  s.hold()
  const first = s.post('/api/auth/token/', { username: 'u0', password: 'pw-0' })
  await waitFor(() => s.checked.length === 1, 60_000, 'the first check')
  const controllers = Array.from({ length: 10 }, () => new AbortController())
  const waiting = controllers.map((c, i) =>
    s.post('/api/auth/token/', { username: `u${i + 1}`, password: `pw-${i + 1}` }, { signal: c.signal }).then(
      (a) => a,
      (err: unknown) => err,
    ),
  )
  await waitFor(async () => (await s.metric(WAITING)) === 10, 60_000, 'ten waiting')
  // Six clients give up: their connections close.
  for (const c of controllers.slice(0, 6)) c.abort()
  await waitFor(async () => (await s.metric(WAITING)) === 4, 60_000, 'the six gone from the queue')
  assert.equal(await s.metric('baton_login_total{outcome="client_gone"}'), 6)

  s.open()
  assert.equal((await first).status, 200)
  const outcomes = await Promise.all(waiting)
  for (const o of outcomes.slice(0, 6)) assert.equal((o as Error).name, 'AbortError')
  for (const o of outcomes.slice(6)) assert.equal((o as Answer).status, 200)
  // u0 and the four who stayed; none of the six who left reached scrypt.
  assert.deepEqual(s.checked.sort(), ['pw-0', 'pw-10', 'pw-7', 'pw-8', 'pw-9'])
})

test(
  'login storm: a shed login and a gone client give their rate-limit attempts back; checked failures still count',
  { timeout: 120_000 },
  async () => {
    const s = await storm({
      BATON_LOGIN_CONCURRENCY: '1',
      BATON_LOGIN_QUEUE: '1',
      BATON_LOGIN_QUEUE_MS: '60000',
      LOGIN_RATE_LIMIT: '3/900',
    })
    await s.addUser('alice', 'alice-password')
    await s.addUser('bob', 'bob-password')

    // Shed: three wrong passwords for alice at once (each reserves one of her three attempts
    // first): one runs, one waits, one is sent away and gives its attempt back.
    s.hold()
    const answered: Answer[] = []
    const storm3 = [0, 1, 2].map((i) =>
      s.post('/api/auth/token/', { username: 'alice', password: `wrong-${i}` }).then((a) => (answered.push(a), a)),
    )
    await waitFor(() => s.checked.length === 1 && answered.length === 1, 60_000, 'one check and one answer')
    assertBusy(answered[0]!)
    s.open()
    assert.deepEqual(tally(await Promise.all(storm3)), { '401 invalid_credentials': 2, '503 login_busy': 1 })
    // Two failures counted, not three: one more attempt is hers, then she is limited.
    assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: 'wrong-3' })).status, 401)
    assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: 'wrong-4' })).code, 'rate_limited')

    // Gone: bob's second attempt waits, and its client leaves; it gives its attempt back.
    s.hold()
    const running = s.post('/api/auth/token/', { username: 'bob', password: 'bob-0' })
    await waitFor(() => s.checked.includes('bob-0'), 60_000, "bob's first check")
    const controller = new AbortController()
    const leaving = s
      .post('/api/auth/token/', { username: 'bob', password: 'bob-1' }, { signal: controller.signal })
      .catch((err: unknown) => err)
    await waitFor(async () => (await s.metric(WAITING)) === 1, 60_000, 'one waiting')
    controller.abort()
    await waitFor(async () => (await s.metric(WAITING)) === 0, 60_000, 'the waiter gone')
    s.open()
    assert.equal((await running).status, 401)
    assert.equal(((await leaving) as Error).name, 'AbortError')
    assert.ok(!s.checked.includes('bob-1'), 'the gone client was not checked')
    // One failure counted: two more attempts are his, then he is limited.
    for (const p of ['bob-2', 'bob-3']) assert.equal((await s.post('/api/auth/token/', { username: 'bob', password: p })).status, 401, p)
    assert.equal((await s.post('/api/auth/token/', { username: 'bob', password: 'bob-4' })).code, 'rate_limited')
  },
)

test(
  'login storm: a login that has waited BATON_LOGIN_QUEUE_MS is sent away, by its timer or when its turn comes late',
  { timeout: 120_000 },
  async () => {
    // By the timer: the door stays shut, so only the wait bound can answer the waiter.
    const t = await storm({ BATON_LOGIN_CONCURRENCY: '1', BATON_LOGIN_QUEUE: '4', BATON_LOGIN_QUEUE_MS: '50' })
    await t.addUser('ada', 'ada-password')
    t.hold()
    const running = t.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })
    await waitFor(() => t.checked.length === 1, 60_000, 'the first check')
    assertBusy(await t.post('/api/auth/token/', { username: 'ada', password: 'ada-password' }))
    assert.equal(t.checked.length, 1)
    t.open()
    assert.equal((await running).status, 200)

    // By the clock: the waiters' time is up when the check ahead of them ends (the server's
    // clock is the test's; the timers are far off), so they are sent away, not checked.
    const c = await storm({ BATON_LOGIN_CONCURRENCY: '1', BATON_LOGIN_QUEUE: '4', BATON_LOGIN_QUEUE_MS: '60000' })
    await c.addUser('ada', 'ada-password')
    c.hold()
    const ahead = c.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })
    await waitFor(() => c.checked.length === 1, 60_000, 'the first check')
    const late = [0, 1].map(() => c.post('/api/auth/token/', { username: 'ada', password: 'ada-password' }))
    await waitFor(async () => (await c.metric(WAITING)) === 2, 60_000, 'two waiting')
    c.server.clock.advance(60_001)
    c.open()
    assert.equal((await ahead).status, 200)
    for (const a of await Promise.all(late)) assertBusy(a)
    assert.equal(c.checked.length, 1)
  },
)

test(
  "login storm: a login is sent away at once when the logins ahead of it would take the whole wait at the checks' recent pace",
  { timeout: 120_000 },
  async () => {
    const s = await storm({ BATON_LOGIN_CONCURRENCY: '1', BATON_LOGIN_QUEUE: '4', BATON_LOGIN_QUEUE_MS: '2000' })
    await s.addUser('ada', 'ada-password')
    // One check that took 3 s by the server's clock: the pace the queue now expects.
    s.clockInCheck = 3_000
    assert.equal((await s.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })).status, 200)
    s.clockInCheck = 0
    s.hold()
    const running = s.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })
    await waitFor(() => s.checked.length === 2, 60_000, 'the second check')
    // First in line: its turn may come within 2 s, so it waits.
    const first = s.post('/api/auth/token/', { username: 'ada', password: 'ada-password' })
    await waitFor(async () => (await s.metric(WAITING)) === 1, 60_000, 'one waiting')
    // Second in line: a whole 3 s check stands between it and its turn: sent away now, not in 2 s.
    assertBusy(await s.post('/api/auth/token/', { username: 'ada', password: 'ada-password' }))
    assert.equal(await s.metric(WAITING), 1)
    s.open()
    assert.equal((await running).status, 200)
    assert.equal((await first).status, 200)
    assert.equal(s.checked.length, 3)
  },
)

test('login storm: the credential check starts no scrypt for a client gone during the user look-up', async () => {
  const users = createMemoryUserStore()
  await users.createUser({ username: 'ada', passwordHash: await hashPassword('ada-password', TEST_SCRYPT), now: 0 })
  let verified = 0
  const checker = createCredentialChecker(users, {
    params: TEST_SCRYPT,
    async verify(password, hash) {
      verified++
      return verifyPassword(password, hash)
    },
  })
  for (const name of ['ada', 'nobody'])
    await assert.rejects(checker.check(name, 'ada-password', { signal: AbortSignal.abort() }), { name: 'AbortError' })
  assert.equal(verified, 0)
  assert.deepEqual(await checker.check('ada', 'ada-password', {}), { id: '1', username: 'ada' })
  assert.equal(verified, 1)
})
