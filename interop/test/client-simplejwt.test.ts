/**
 * SPEC §6 and §9: @baton/client in Node against an UNCHANGED simplejwt backend — real Django 3.2 +
 * DRF + simplejwt 5.2.2 under gunicorn on a free loopback port, rotation and blacklist on, a
 * short access lifetime. simplejwt copies the refresh token's `iat` into every refreshed access
 * token, so a client that reads `iat` as the issue time misjudges every expiry; this client
 * times tokens from the answer's `Date` and `exp` (packages/client/src/server-clock.ts).
 *
 * Every request goes through the client's `fetch` option, so the test sees every answer,
 * including the 401s a retry would hide from the caller.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  type AuthClient,
  type AuthClientOptions,
  createAuthClient,
  createMemoryStorage,
  isRefreshUnavailableError,
  type TokenStorage,
} from '../../packages/client/src/index.js'
import { createFakeTime } from '../../packages/client/test/helpers/fake-time.js'
import { type DjangoProject, type DjangoServer, createDjangoProject } from '../helpers/django.js'

/** simplejwt's ACCESS_TOKEN_LIFETIME here, in seconds: short, so a session spans many. */
const LIFETIME = 6
/** How many access lifetimes the long session lasts (real time: Django's clock is real). */
const LIFETIMES = 6
const ADA = { username: 'ada', password: 'ada-Pässword-1' }
const PATHS = { login: '/api/token/', refresh: '/api/token/refresh/', logout: '/api/token/blacklist/' }

let project: DjangoProject
let django: DjangoServer

before(async () => {
  project = await createDjangoProject({
    env: { SJ_ACCESS_SECONDS: String(LIFETIME), SJ_ROTATE: 'true', SJ_BLACKLIST: 'true' },
  })
  await project.seedUsers([{ ...ADA, hasher: 'pbkdf2_sha256' }])
  django = await project.serve()
})
after(async () => {
  await django?.stop()
  project?.cleanup()
})

interface Exchange {
  path: string
  status: number
  /** For a refresh: ms the access token in use still had (exp against this machine's clock). */
  left?: number
}

interface Recorded {
  client: AuthClient
  storage: TokenStorage
  exchanges: Exchange[]
}

function expOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp: number }
  return payload.exp * 1000
}

/** A client on Django's routes whose every request and answer is recorded. */
function recordedClient(baseURL: string, options: AuthClientOptions = {}): Recorded {
  const exchanges: Exchange[] = []
  const storage = createMemoryStorage()
  let bearer: string | null = null
  const client = createAuthClient({
    baseURL,
    storage,
    paths: PATHS,
    ...options,
    fetch: async (input, init) => {
      const request = new Request(input, init)
      const path = new URL(request.url).pathname
      const auth = request.headers.get('authorization')
      if (auth !== null) bearer = auth.slice('Bearer '.length)
      const left = path === PATHS.refresh && bearer !== null ? expOf(bearer) - Date.now() : undefined
      const response = await fetch(request)
      exchanges.push({ path, status: response.status, ...(left === undefined ? {} : { left }) })
      return response
    },
  })
  return { client, storage, exchanges }
}

async function stored(r: Recorded): Promise<{ access: string; refresh: string } | null> {
  const raw = await r.storage.get(r.client.options.storageKey)
  return typeof raw === 'string' ? (JSON.parse(raw) as { access: string; refresh: string }) : null
}

/** Resolves with the next `event` of `client`. */
function next(client: AuthClient, event: 'degraded' | 'recovered'): Promise<unknown> {
  return new Promise((resolve) => {
    const off = client.on(event, (payload) => {
      off()
      resolve(payload)
    })
  })
}

test(`client+simplejwt: /api/me/ called throughout ${LIFETIMES} access lifetimes: zero 401s, every refresh proactive`, async (t) => {
  const r = recordedClient(django.url)
  t.after(() => r.client.close())
  await r.client.login(ADA)
  const started = Date.now()
  let calls = 0
  while (Date.now() - started < LIFETIMES * LIFETIME * 1000) {
    const response = await r.client.fetch('/api/me/')
    assert.deepEqual(await response.json(), { id: 1, username: 'ada' })
    calls += 1
    // Pacing only (two cores are shared): what is checked does not depend on it.
    await new Promise((resolve) => setTimeout(resolve, 40))
  }
  const me = r.exchanges.filter((e) => e.path === '/api/me/')
  const refreshes = r.exchanges.filter((e) => e.path === PATHS.refresh)
  const left = refreshes.map((e) => Math.round(e.left ?? 0))
  t.diagnostic(`${calls} calls, ${me.length - calls} retried, ${refreshes.length} refreshes`)
  t.diagnostic(`ms the token in use had left at each refresh: ${left.join(' ')}`)
  assert.deepEqual(
    me.filter((e) => e.status !== 200),
    [],
    'every /api/me/ answer was 200: no 401 at any expiry',
  )
  assert.equal(me.length, calls, 'no request was retried')
  assert.ok(calls > 100, `${calls} calls`)
  // One refresh per lifetime, each rotated (and the old token blacklisted) by Django.
  assert.deepEqual(
    refreshes.map((e) => e.status).filter((s) => s !== 200),
    [],
  )
  assert.ok(refreshes.length >= Math.floor(LIFETIMES) - 1, `${refreshes.length} refreshes`)
  assert.ok(refreshes.length <= 2 * Math.ceil(LIFETIMES), `${refreshes.length} refreshes: no storm`)
  // Proactive: each refresh left while the token in use was still valid.
  assert.deepEqual(
    refreshes.filter((e) => (e.left ?? 0) <= 0),
    [],
    `refreshes: ${JSON.stringify(refreshes)}`,
  )
})

test('client+simplejwt: logout through /api/token/blacklist/ blacklists the refresh token', async (t) => {
  const r = recordedClient(django.url)
  t.after(() => r.client.close())
  await r.client.login(ADA)
  const pair = await stored(r)
  assert.ok(pair !== null)
  await r.client.logout()
  assert.deepEqual(r.exchanges.at(-1), { path: PATHS.logout, status: 200 })
  assert.equal(await stored(r), null)
  const again = await fetch(new URL(PATHS.refresh, django.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh: pair.refresh }),
  })
  assert.equal(again.status, 401)
  assert.equal(((await again.json()) as { code: string }).code, 'token_not_valid')
})

test('client+simplejwt: logout with paths.logout null sends no request and clears the tokens', async (t) => {
  const r = recordedClient(django.url, { paths: { ...PATHS, logout: null } })
  t.after(() => r.client.close())
  await r.client.login(ADA)
  const sent = r.exchanges.length
  await r.client.logout()
  assert.equal(r.exchanges.length, sent)
  assert.equal(await stored(r), null)
})

test('client+simplejwt: a Django 500 on refresh is degraded with the tokens kept, then recovered', async (t) => {
  // The client's clock and timers are injected: moving them past the access token's expiry
  // makes the refresh due at once, and fires the backoff retry without waiting for it.
  const time = createFakeTime(Date.now())
  const r = recordedClient(django.url, { now: time.now, timers: time.timers, random: () => 0 })
  t.after(() => r.client.close())
  await r.client.login(ADA)
  const pair = await stored(r)
  // A real server error: the blacklist table simplejwt reads on every refresh is gone.
  await blacklistTable('token_blacklist_blacklistedtoken', 'broken_blacklistedtoken')
  try {
    time.advance((LIFETIME + 1) * 1000)
    const degraded = next(r.client, 'degraded')
    await assert.rejects(r.client.fetch('/api/me/'), (error) => {
      assert.ok(isRefreshUnavailableError(error))
      assert.equal((error.cause as { status?: number }).status, 500)
      return true
    })
    await degraded
    const last = r.exchanges.at(-1)
    assert.equal(last?.path, PATHS.refresh)
    assert.equal(last?.status, 500)
    assert.deepEqual(await stored(r), pair, 'tokens kept')
  } finally {
    await blacklistTable('broken_blacklistedtoken', 'token_blacklist_blacklistedtoken')
  }
  const recovered = next(r.client, 'recovered')
  time.advance(30_000) // the backoff retry
  await recovered
  assert.equal((await r.client.fetch('/api/me/')).status, 200)
  assert.notDeepEqual(await stored(r), pair)
})

test('client+simplejwt: gunicorn gone (network error) on refresh is degraded with the tokens kept', async (t) => {
  const own = await project.serve()
  t.after(() => own.stop())
  const time = createFakeTime(Date.now())
  const r = recordedClient(own.url, { now: time.now, timers: time.timers })
  t.after(() => r.client.close())
  await r.client.login(ADA)
  const pair = await stored(r)
  await own.stop()
  time.advance((LIFETIME + 1) * 1000)
  const degraded = next(r.client, 'degraded')
  await assert.rejects(r.client.getAccessToken(), (error) => {
    assert.ok(isRefreshUnavailableError(error))
    assert.equal((error.cause as { name?: string }).name, 'NetworkError')
    return true
  })
  await degraded
  assert.deepEqual(await stored(r), pair, 'tokens kept')
})

async function blacklistTable(from: string, to: string): Promise<void> {
  await project.manage([
    'shell',
    '-c',
    `from django.db import connection; connection.cursor().execute('ALTER TABLE ${from} RENAME TO ${to}')`,
  ])
}
