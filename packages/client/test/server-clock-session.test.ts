/**
 * Whole sessions over many access-token lifetimes against the fake server, with simplejwt's
 * tokens (a refreshed access token carries the refresh token's old `iat`, SPEC §9) and baton's,
 * a server clock ahead or behind, and a `Date` header that is there, missing, garbage, or
 * hidden by CORS. The client must refresh before every expiry: zero 401s, about one refresh per
 * lifetime (SPEC §6).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AuthClient } from '../src/client.js'
import { timeToken } from '../src/server-clock.js'
import { readTokens } from '../src/token-storage.js'
import { claimsOf } from './helpers/jwt.js'
import { createWorld, settle } from './helpers/tabs.js'

const ADA = { username: 'ada', password: 'lovelace' }
const LIFETIME = 5
const LIFETIMES = 12
const STEP_MS = 250

type DateMode = 'sent' | 'missing' | 'garbage' | 'cors-hidden' | 'cors-exposed'

interface Scenario {
  simplejwt: boolean
  serverSkew: number
  date: DateMode
  rotate?: boolean
}

interface SessionLog {
  statuses: number[]
  /** For each refresh: ms the access token in use still had on the server's clock. */
  refreshLeft: number[]
}

function world(scenario: Scenario) {
  const w = createWorld({
    serverSkew: scenario.serverSkew,
    server: {
      accessLifetime: LIFETIME,
      simplejwtIat: scenario.simplejwt,
      rotate: scenario.rotate ?? true,
      ...(scenario.date === 'cors-exposed' ? { exposeHeaders: 'Date' } : {}),
    },
  })
  if (scenario.date === 'missing') w.server.dateHeader = () => null
  if (scenario.date === 'garbage') w.server.dateHeader = () => 'Tomorrow, about noon'
  w.browser.crossOrigin = scenario.date.startsWith('cors')
  return w
}

/**
 * Lets a background refresh the client has started finish before the fake clock moves on. A
 * refresh may wait a few real milliseconds first (refresh.ts lets a contended tab lock's
 * message land), and fake time must not run past expiry meanwhile.
 */
async function refreshed(client: AuthClient, w: ReturnType<typeof world>): Promise<void> {
  for (let spins = 0; ; spins += 1) {
    await settle()
    const tokens = await readTokens(w.storage, client.options.storageKey)
    if (tokens === null) throw new Error('the session ended')
    const { expiresAt, margin } = timeToken(tokens.access, tokens.skew, tokens.lifetime)
    if (expiresAt === null || w.time.now() < expiresAt - margin) return
    if (spins > 10_000) throw new Error('a due refresh never completed')
  }
}

/** Calls /api/me/ every STEP_MS for LIFETIMES lifetimes, recording what the server saw. */
async function run(scenario: Scenario): Promise<SessionLog & { close(): void }> {
  const w = world(scenario)
  const log: SessionLog = { statuses: [], refreshLeft: [] }
  let bearer: string | null = null
  const client: AuthClient = w.tab({
    // Every request through the client's own fetch option: the record of the whole session.
    fetch: async (input, init) => {
      const request = new Request(input, init)
      const path = new URL(request.url).pathname
      const auth = request.headers.get('authorization')
      if (auth !== null) bearer = auth.slice('Bearer '.length)
      if (path === '/api/auth/refresh/' && bearer !== null) {
        const exp = Number(claimsOf(bearer)['exp']) * 1000
        log.refreshLeft.push(exp - w.server.options.now())
      }
      const response = await w.browser.fetch(request)
      if (path === '/api/me/') log.statuses.push(response.status)
      return response
    },
  })
  await client.login(ADA)
  for (let elapsed = 0; elapsed < LIFETIMES * LIFETIME * 1000; elapsed += STEP_MS) {
    w.time.advance(STEP_MS)
    const response = await client.fetch('/api/me/')
    response.body?.cancel().catch(() => {})
    await refreshed(client, w)
  }
  return { ...log, close: w.close }
}

function check(scenario: Scenario, log: SessionLog): void {
  const label = JSON.stringify(scenario)
  assert.deepEqual(
    log.statuses.filter((status) => status !== 200),
    [],
    `${label}: every call answered 200`,
  )
  assert.equal(log.statuses.length, (LIFETIMES * LIFETIME * 1000) / STEP_MS, `${label}: retries`)
  // Proactive: each refresh left while the token in use was still valid on the server.
  assert.deepEqual(
    log.refreshLeft.filter((left) => left <= 0),
    [],
    `${label}: refreshes after expiry`,
  )
  // About one refresh per lifetime: not a refresh storm (a margin of 60 s on a 5 s token).
  assert.ok(log.refreshLeft.length >= LIFETIMES - 1, `${label}: ${log.refreshLeft.length}`)
  assert.ok(log.refreshLeft.length <= 2 * LIFETIMES, `${label}: ${log.refreshLeft.length}`)
}

const SKEWS = [0, 3 * 60_000, -3 * 60_000]
const DATES: DateMode[] = ['sent', 'missing', 'garbage', 'cors-hidden', 'cors-exposed']

for (const simplejwt of [true, false]) {
  test(`session: ${simplejwt ? 'simplejwt' : 'baton'}-style tokens over ${LIFETIMES} lifetimes, server clock 0 / ±3 min, Date sent, missing, garbage or hidden by CORS: zero 401s, each refresh before expiry`, async () => {
    for (const serverSkew of SKEWS) {
      for (const date of DATES) {
        const scenario = { simplejwt, serverSkew, date }
        const session = await run(scenario)
        session.close()
        check(scenario, session)
      }
    }
  })
}

test('session: simplejwt with rotation off (iat stays the login time, ever older): zero 401s', async () => {
  for (const serverSkew of SKEWS) {
    const scenario = { simplejwt: true, serverSkew, date: 'sent' as const, rotate: false }
    const session = await run(scenario)
    session.close()
    check(scenario, session)
  }
})

test('session: with the server 3 min ahead and Date exposed through CORS, expiresAt is within half a second', async (t) => {
  const w = world({ simplejwt: true, serverSkew: 3 * 60_000, date: 'cors-exposed' })
  t.after(w.close)
  const client = w.tab()
  // 50 ms into the server's second: iat alone (late end of its second) would be 949 ms off.
  w.time.advance(1_050)
  const { access, expiresAt } = await client.login(ADA)
  const truth = Number(claimsOf(access)['exp']) * 1000 - 3 * 60_000
  assert.ok(Math.abs((expiresAt ?? 0) - truth) <= 500, `${expiresAt} vs ${truth}`)
})
