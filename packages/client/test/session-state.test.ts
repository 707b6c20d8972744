/**
 * The transition table of session-state.ts, row by row: every resting state against every
 * event, and the refreshing state's own rules. The expected column is written in the notation
 * of the table in the module's doc comment, so a change to one shows up against the other.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { NetworkError } from '../src/errors.js'
import { holdTokens, type HeldTokens } from '../src/held-tokens.js'
import type { Outage } from '../src/outage.js'
import {
  initialState,
  mayProbe,
  outageOf,
  tokensOf,
  transition,
  type BaseState,
  type SessionEvent,
  type SessionState,
} from '../src/session-state.js'
import { makeToken } from './helpers/jwt.js'

const NOW = 1_000_000_000_000
const labels = new Map<object, string>()

function label<T extends object>(name: string, value: T): T {
  labels.set(value, name)
  return value
}

function tokens(name: string, expSeconds: number): HeldTokens {
  const access = makeToken({ exp: expSeconds, iat: expSeconds - 300, sid: 's', jti: name })
  return label(name, holdTokens({ access, refresh: `r-${name}`, skew: 0, lifetime: 300_000 }))
}

function outage(name: string, attempt: number): Outage {
  const cause = new NetworkError(new Request('https://api.test/'), new Error('down'))
  return label(name, { until: NOW + 1_000, attempt, since: NOW, cause })
}

const T = tokens('T', NOW / 1000 + 300)
const T2 = tokens('T2', NOW / 1000 + 600)
/** Another tab's pair that has already expired. */
const X = tokens('X', NOW / 1000 - 1)
const O = outage('O', 0)
const O2 = outage('O2', 1)
const F = label('F', Promise.resolve(null))
const F2 = label('F2', Promise.resolve(null))

const anonymous: BaseState = { name: 'anonymous' }
const probing: BaseState = { name: 'probing' }
const auth = (held: HeldTokens): BaseState => ({ name: 'authenticated', tokens: held })

const STATES: Record<string, SessionState> = {
  anonymous,
  probing,
  'auth(T)': auth(T),
  'degraded(auth(T), O)': { name: 'degraded', under: auth(T), outage: O },
  'degraded(probing, O)': { name: 'degraded', under: probing, outage: O },
  'degraded(anonymous, O)': { name: 'degraded', under: anonymous, outage: O },
}

const EVENTS: Record<string, SessionEvent> = {
  'login(T2)': { type: 'login', tokens: T2 },
  'stored(T2)': { type: 'stored', tokens: T2, now: NOW },
  'stored(X)': { type: 'stored', tokens: X, now: NOW },
  'stored(none)': { type: 'stored', tokens: null, now: NOW },
  'refresh(F)': { type: 'refresh', flight: F },
  'settled(F)': { type: 'settled', flight: F },
  'refreshed(T2)': { type: 'refreshed', tokens: T2 },
  'failed(O2)': { type: 'failed', outage: O2 },
  unprobed: { type: 'unprobed' },
  'gave-up': { type: 'gave-up' },
  recovered: { type: 'recovered' },
  ended: { type: 'ended' },
}

function show(state: SessionState): string {
  switch (state.name) {
    case 'anonymous':
    case 'probing':
      return state.name
    case 'authenticated':
      return `auth(${labels.get(state.tokens) ?? '?'})`
    case 'degraded':
      return `degraded(${show(state.under)}, ${labels.get(state.outage) ?? '?'})`
    case 'refreshing':
      return `refreshing(${labels.get(state.flight) ?? '?'}, ${show(state.during)})`
  }
}

function step(state: SessionState, event: SessionEvent): string {
  const { state: next, recovery } = transition(state, event)
  return show(next) + (recovery === null ? '' : recovery === 'broadcast' ? ' ↺!' : ' ↺')
}

/** Expected, per state, in the order of EVENTS ("·" keeps the state). */
const TABLE: Record<string, string[]> = {
  anonymous: [
    'auth(T2)',
    'auth(T2)',
    'auth(X)',
    '·',
    'refreshing(F, anonymous)',
    '·',
    'auth(T2)',
    'degraded(anonymous, O2)',
    '·',
    '·',
    '·',
    'anonymous',
  ],
  probing: [
    'auth(T2)',
    'auth(T2)',
    'auth(X)',
    '·',
    'refreshing(F, probing)',
    '·',
    'auth(T2)',
    'degraded(probing, O2)',
    'anonymous',
    '·',
    '·',
    'anonymous',
  ],
  'auth(T)': [
    'auth(T2)',
    'auth(T2)',
    'auth(X)',
    'anonymous',
    'refreshing(F, auth(T))',
    '·',
    'auth(T2)',
    'degraded(auth(T), O2)',
    '·',
    '·',
    '·',
    'anonymous',
  ],
  'degraded(auth(T), O)': [
    'auth(T2) ↺!',
    'auth(T2) ↺',
    'degraded(auth(X), O)',
    'degraded(anonymous, O)',
    'refreshing(F, degraded(auth(T), O))',
    '·',
    'auth(T2) ↺!',
    'degraded(auth(T), O2)',
    '·',
    'auth(T)',
    'auth(T) ↺',
    'anonymous',
  ],
  'degraded(probing, O)': [
    'auth(T2) ↺!',
    'auth(T2) ↺',
    'degraded(auth(X), O)',
    '·',
    'refreshing(F, degraded(probing, O))',
    '·',
    'auth(T2) ↺!',
    'degraded(probing, O2)',
    'degraded(anonymous, O)',
    'probing',
    'probing ↺',
    'anonymous',
  ],
  'degraded(anonymous, O)': [
    'auth(T2) ↺!',
    'auth(T2) ↺',
    'degraded(auth(X), O)',
    '·',
    'refreshing(F, degraded(anonymous, O))',
    '·',
    'auth(T2) ↺!',
    'degraded(anonymous, O2)',
    '·',
    'anonymous',
    'anonymous ↺',
    'anonymous',
  ],
}

test('session state: every resting state against every event follows the table', () => {
  const events = Object.entries(EVENTS)
  for (const [from, state] of Object.entries(STATES)) {
    const row = TABLE[from]
    assert.ok(row !== undefined && row.length === events.length, `a full row for ${from}`)
    for (const [index, [name, event]] of events.entries()) {
      const cell: string = row[index] ?? '?'
      const expected: string = cell === '·' ? from : cell
      assert.equal(step(state, event), expected, `${from} + ${name}`)
    }
  }
})

test('session state: a refresh is joined, ends only by its own settling, and every other event applies underneath', () => {
  const refreshing: SessionState = {
    name: 'refreshing',
    flight: F,
    during: { name: 'degraded', under: auth(T), outage: O },
  }
  const from = 'refreshing(F, degraded(auth(T), O))'
  assert.equal(step(refreshing, { type: 'refresh', flight: F2 }), from, 'a second refresh joins')
  assert.equal(step(refreshing, { type: 'settled', flight: F2 }), from, 'another flight settling')
  assert.equal(step(refreshing, { type: 'settled', flight: F }), 'degraded(auth(T), O)')
  // The rest of the table, under the flight: recoveries are reported as they would be at rest.
  assert.equal(step(refreshing, { type: 'refreshed', tokens: T2 }), 'refreshing(F, auth(T2)) ↺!')
  const stored = step(refreshing, { type: 'stored', tokens: T2, now: NOW })
  assert.equal(stored, 'refreshing(F, auth(T2)) ↺')
  const failed = step(refreshing, { type: 'failed', outage: O2 })
  assert.equal(failed, 'refreshing(F, degraded(auth(T), O2))')
  // A login or a logout does not cancel the flight (the core's generation check drops it).
  assert.equal(step(refreshing, { type: 'login', tokens: T2 }), 'refreshing(F, auth(T2)) ↺!')
  assert.equal(step(refreshing, { type: 'ended' }), 'refreshing(F, anonymous)')
})

test('session state: the initial state and what each state holds', () => {
  assert.equal(show(initialState('body')), 'anonymous')
  assert.equal(show(initialState('cookie')), 'probing')
  const refreshing: SessionState = {
    name: 'refreshing',
    flight: F,
    during: { name: 'degraded', under: probing, outage: O },
  }
  const cases: [SessionState, HeldTokens | null, Outage | null, boolean][] = [
    [anonymous, null, null, false],
    [probing, null, null, true],
    [auth(T), T, null, false],
    [{ name: 'degraded', under: auth(T), outage: O }, T, O, false],
    [refreshing, null, O, true],
    [{ name: 'refreshing', flight: F, during: auth(T) }, T, null, false],
  ]
  for (const [state, held, outageHeld, probe] of cases) {
    assert.equal(tokensOf(state), held, show(state))
    assert.equal(outageOf(state), outageHeld, show(state))
    assert.equal(mayProbe(state), probe, show(state))
  }
})
