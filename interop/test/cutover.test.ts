import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import axios, { type AxiosError, type InternalAxiosRequestConfig } from 'axios'
import { type AuthClient, createAuthClient } from '../../packages/client/src/index.js'
import { type BatonProcess, startBaton } from '../../e2e/helpers.js'
import { createDjangoProject, type DjangoProject, type DjangoServer } from '../helpers/django.js'
import { type FrontDoor, startFrontDoor } from '../helpers/front-door.js'

/**
 * SPEC §9's cut-over, followed as README "Moving the refresh route to baton" tells a team, against
 * the real Django stack: users log in through Django and call its API; then, at one moment, the
 * front door sends simplejwt's auth paths to baton and Django verifies baton's tokens (JWKS).
 * Nobody logs in again and no API call fails: each client's next 401 (a simplejwt access token
 * Django no longer accepts, or an expired one) is refreshed at baton, whose first answer to a
 * simplejwt refresh token starts a baton session (generation 0 → 1).
 */

const SECRET_KEY = 'django-insecure-cutover-fixture-!@#$%^&*(-_=+)0123456789abcdefghijklmnop'
const PASSWORD = 'pässwörd-ünïcode'
const USERS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay']

let django: DjangoProject
let djangoHS: DjangoServer
let djangoES: DjangoServer
let baton: BatonProcess
let door: FrontDoor

before(async () => {
  django = await createDjangoProject({ env: { DJANGO_SECRET_KEY: SECRET_KEY, SJ_ACCESS_SECONDS: '3' } })
  await django.seedUsers(USERS.map((username, i) => ({ username, password: PASSWORD, hasher: i % 2 ? 'argon2' : 'pbkdf2_sha256' })))
  djangoHS = await django.serve()
  baton = await startBaton({
    USER_STORE: 'django',
    DATABASE_URL: django.env.DATABASE_URL!,
    SIMPLEJWT_SIGNING_KEY: SECRET_KEY,
    ACCESS_TOKEN_LIFETIME: '3',
    REFRESH_GRACE_SECONDS: '15',
  })
  // The same Django code and database, now verifying baton's access tokens (README's settings).
  djangoES = await django.serve({
    SJ_ALGORITHM: 'ES256',
    SJ_JWK_URL: `${baton.url}/.well-known/jwks.json`,
    SJ_AUDIENCE: 'baton',
    SJ_ISSUER: 'baton',
    SJ_SIGNING_KEY: '',
  })
  door = await startFrontDoor({ '/api/': djangoHS.url })
})
after(async () => {
  await door?.close()
  await Promise.all([djangoHS?.stop(), djangoES?.stop(), baton?.stop()])
  django?.cleanup()
})

interface Tally {
  calls: number
  failed: { user: string; status: number }[]
  logouts: string[]
}

/** The seed's frontend: an axios instance with the usual 401 interceptor, no baton code. */
function seedStyleClient(username: string, tally: Tally) {
  const tokens = { access: '', refresh: '' }
  const api = axios.create({ baseURL: door.url, validateStatus: () => true })
  api.interceptors.request.use((config) => {
    if (tokens.access) config.headers.set('authorization', `Bearer ${tokens.access}`)
    return config
  })
  api.interceptors.response.use(
    async (res) => {
      const config = res.config as InternalAxiosRequestConfig & { _retry?: boolean }
      if (res.status !== 401 || config._retry || config.url === '/api/token/refresh/') return res
      config._retry = true
      const r = await api.post('/api/token/refresh/', { refresh: tokens.refresh })
      if (r.status !== 200) {
        tally.logouts.push(`${username}: refresh ${r.status} ${JSON.stringify(r.data)}`)
        tokens.access = tokens.refresh = ''
        return res
      }
      tokens.access = r.data.access
      if (r.data.refresh) tokens.refresh = r.data.refresh
      return api.request(config)
    },
    (err: AxiosError) => Promise.reject(err),
  )
  return {
    async login() {
      const r = await api.post('/api/token/', { username, password: PASSWORD })
      assert.equal(r.status, 200, `${username} logs in through Django`)
      Object.assign(tokens, r.data)
    },
    async call(): Promise<number> {
      return (await api.get('/api/me/')).status
    },
  }
}

function batonClient(username: string, tally: Tally): { client: AuthClient; login(): Promise<void>; call(): Promise<number> } {
  const client = createAuthClient({
    baseURL: door.url,
    storage: 'memory',
    paths: { login: '/api/token/', refresh: '/api/token/refresh/', logout: '/api/token/blacklist/' },
  })
  client.on('session-expired', (e) => tally.logouts.push(`${username}: session-expired ${JSON.stringify(e)}`))
  return {
    client,
    login: () => client.login({ username, password: PASSWORD }).then(() => undefined),
    call: async () => (await client.fetch('/api/me/')).status,
  }
}

async function drive(clients: { name: string; call(): Promise<number> }[], tally: Tally, ms: number): Promise<void> {
  const end = Date.now() + ms
  await Promise.all(
    clients.map(async ({ name, call }) => {
      while (Date.now() < end) {
        tally.calls++
        const status = await call().catch(() => 0)
        if (status !== 200) tally.failed.push({ user: name, status })
        await new Promise((r) => setTimeout(r, 150))
      }
    }),
  )
}

test(
  'cut-over: the refresh route moves to baton mid-session; nobody logs out, no API call fails, Django keeps answering',
  { timeout: 90_000 },
  async () => {
    const tally: Tally = { calls: 0, failed: [], logouts: [] }
    const seeds = USERS.slice(0, 3).map((u) => ({ name: `axios:${u}`, ...seedStyleClient(u, tally) }))
    const batons = USERS.slice(3).map((u) => ({ name: `baton-client:${u}`, ...batonClient(u, tally) }))
    for (const c of [...seeds, ...batons]) await c.login()

    // Before: Django alone; its 3 s access tokens expire and rotate (and its blacklist fills).
    await drive([...seeds, ...batons], tally, 4_000)
    assert.deepEqual(tally.failed, [], 'before the cut-over, against Django alone')

    // The cut-over, as one front-door switch.
    door.route({ '/api/token/': baton.url, '/api/': djangoES.url })
    await drive([...seeds, ...batons], tally, 8_000)

    assert.deepEqual(tally.logouts, [], 'nobody was logged out')
    assert.deepEqual(tally.failed, [], 'no API call failed')
    assert.ok(tally.calls > 100, `calls made: ${tally.calls}`)
    const metrics = await (await fetch(`${baton.url}/metrics`)).text()
    const migrated = /^baton_migrated_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)
    assert.equal(
      Number(migrated?.[1]),
      USERS.length,
      `each user's simplejwt session moved once:\n${metrics
        .split('\n')
        .filter((l) => l.includes('migrated'))
        .join('\n')}`,
    )
    const lines = baton
      .output()
      .split('\n')
      .filter((l) => l.includes('"audit":"migrated"'))
    assert.equal(lines.length, USERS.length)
    for (const line of lines) {
      const event = JSON.parse(line) as Record<string, unknown>
      assert.equal(typeof event.sub, 'string')
      assert.equal(typeof event.legacy_jti_hash, 'string')
      assert.ok(!line.includes('eyJ'), 'no token in the audit line')
    }
  },
)

test('cut-over: one simplejwt refresh token presented twenty times at once starts one session; all twenty get its one successor', async () => {
  const [pair] = await django.mintTokens(['ann'])
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      fetch(`${baton.url}/api/token/refresh/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh: pair!.refresh }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { refresh?: string; access?: string } })),
    ),
  )
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(20).fill(200),
  )
  // The same successor: one jti of one session (ES256 signatures differ from one signing to the next).
  const claimsOf = (t: string) =>
    JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { sid: string; jti: string; gen: number }
  const successors = new Set(
    answers.map((a) => {
      const c = claimsOf(a.body.refresh!)
      return `${c.sid}/${c.jti}/${c.gen}`
    }),
  )
  assert.equal(successors.size, 1, `the same successor for every racer: ${[...successors].join(', ')}`)
  const sid = JSON.parse(Buffer.from(answers[0]!.body.refresh!.split('.')[1]!, 'base64url').toString()).sid
  const me = await fetch(`${baton.url}/api/auth/sessions/`, { headers: { authorization: `Bearer ${answers[0]!.body.access}` } })
  const sessions = (await me.json()) as { id: string }[]
  assert.equal(sessions.filter((s) => s.id === sid).length, 1)
})

test('cut-over: the migrated token is generation 0 — replayed after its successor rotated, it is reuse and revokes the family', async () => {
  const [pair] = await django.mintTokens(['ben'])
  const post = (refresh: string) =>
    fetch(`${baton.url}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }))
  const first = await post(pair!.refresh)
  assert.equal(first.status, 200)
  const second = await post(first.body.refresh!)
  assert.equal(second.status, 200, 'generation 1 rotates to 2')
  const replay = await post(pair!.refresh)
  assert.deepEqual([replay.status, replay.body.code], [401, 'token_reused'])
  const after = await post(second.body.refresh!)
  assert.deepEqual([after.status, after.body.code], [401, 'token_revoked'], 'the family is revoked')
})

test("cut-over: a jti in Django's blacklist is token_revoked; an inactive user's token is token_not_valid; a simplejwt access token is never accepted", async () => {
  const [blacklisted, inactive] = await django.mintTokens(['cat', 'dan'])
  const bl = await fetch(`${djangoHS.url}/api/token/blacklist/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh: blacklisted!.refresh }),
  })
  assert.equal(bl.status, 200, 'logged out at Django')
  await django.manage([
    'shell',
    '-c',
    "from django.contrib.auth.models import User; User.objects.filter(username='dan').update(is_active=False)",
  ])
  const post = (path: string, body: object) =>
    fetch(`${baton.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
      async (r) => ({ status: r.status, code: ((await r.json()) as { code?: string }).code }),
    )
  assert.deepEqual(await post('/api/token/refresh/', { refresh: blacklisted!.refresh }), { status: 401, code: 'token_revoked' })
  assert.deepEqual(await post('/api/token/refresh/', { refresh: inactive!.refresh }), { status: 401, code: 'token_not_valid' })
  assert.deepEqual(await post('/api/token/refresh/', { refresh: blacklisted!.access }), { status: 401, code: 'token_not_valid' })
  const me = await fetch(`${baton.url}/api/me/`, { headers: { authorization: `Bearer ${blacklisted!.access}` } })
  assert.equal(me.status, 401, 'a simplejwt access token is not a baton access token')
  await django.manage([
    'shell',
    '-c',
    "from django.contrib.auth.models import User; User.objects.filter(username='dan').update(is_active=True)",
  ])
})
