import assert from 'node:assert/strict'
import { test } from 'node:test'
import { holdTokens, type HeldTokens } from '../src/held-tokens.js'
import type { TabChannel, TabMessage } from '../src/tab-channel.js'
import {
  aboutSession,
  createTabSync,
  handleTabMessage,
  onEndedMessage,
  onTokensMessage,
  tokensMessage,
  type TabSyncHost,
} from '../src/tab-sync.js'
import { createChannelHub } from './helpers/channel-hub.js'
import { makeToken } from './helpers/jwt.js'

function pair(iat: number, sid = 's1', refresh: string | null = `r${iat}`): HeldTokens {
  const access = makeToken({ sid, iat, exp: iat + 300 })
  return holdTokens({ access, refresh, skew: 7, lifetime: 300_000 })
}

test('tab sync: a later pair of our session is taken from the message; anything else asks the storage', () => {
  const held = pair(100)
  const later = pair(200)
  const message = tokensMessage(later)
  assert.deepEqual(message, {
    type: 'tokens',
    access: later.access,
    refresh: later.stored.refresh,
    skew: 7,
    lifetime: 300_000,
  })
  if (message.type !== 'tokens') throw new Error('unreachable')
  const adopt = onTokensMessage(message, held, true)
  assert.equal(adopt.kind, 'adopt')
  if (adopt.kind === 'adopt') assert.deepEqual(adopt.tokens.stored, later.stored)
  assert.deepEqual(onTokensMessage(message, later, true), { kind: 'load' }, 'not later')
  assert.deepEqual(onTokensMessage(message, null, true), { kind: 'load' }, 'nothing held')
  const other = tokensMessage(pair(300, 'another session'))
  if (other.type !== 'tokens') throw new Error('unreachable')
  assert.deepEqual(onTokensMessage(other, held, true), { kind: 'load' }, 'another session')
  assert.deepEqual(onTokensMessage({ type: 'tokens' }, held, true), { kind: 'load' })
})

test('tab sync: cookie mode shares the cookie, so another tab’s new access token is ours', () => {
  const held = pair(100, 's1', null)
  const message = tokensMessage(pair(200, 's1', null))
  assert.equal('refresh' in message, false, 'cookie mode shares no refresh token')
  if (message.type !== 'tokens') throw new Error('unreachable')
  const action = onTokensMessage(message, held, false)
  assert.equal(action.kind, 'adopt')
  if (action.kind === 'adopt') assert.equal(action.tokens.stored.refresh, null)
  assert.deepEqual(onTokensMessage({ type: 'tokens', access: held.access }, held, false), {
    kind: 'none',
  })
  assert.deepEqual(onTokensMessage({ type: 'tokens' }, held, false), { kind: 'none' })
})

test('tab sync: an end elsewhere is ours by session id, the storage’s to judge otherwise', () => {
  const held = pair(100)
  assert.deepEqual(aboutSession(held), { session: 's1' })
  assert.deepEqual(aboutSession(null), {})
  const cases: [TabMessage & { type: 'logout' | 'session-expired' }, boolean, string][] = [
    [{ type: 'logout', session: 's1' }, true, 'own-session'],
    [{ type: 'session-expired', code: 'token_revoked', session: 's1' }, true, 'own-session'],
    [{ type: 'logout', session: 's2' }, true, 'if-storage-empty'],
    [{ type: 'logout' }, true, 'if-storage-empty'],
    [{ type: 'logout', session: 's1' }, false, 'forget'],
    [{ type: 'logout' }, false, 'forget'],
  ]
  for (const [message, hasStorage, expected] of cases)
    assert.equal(onEndedMessage(message, held, hasStorage), expected, JSON.stringify(message))
  assert.equal(onEndedMessage({ type: 'logout', session: 's1' }, null, true), 'if-storage-empty')
})

test('tab sync: messages are handled one after another, in order, and a broken channel never throws', async () => {
  const hub = createChannelHub()
  const sender = hub.channel()
  const order: string[] = []
  let release = (): void => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const sync = createTabSync(hub.channel(), async (message) => {
    order.push(`start ${message.type}`)
    if (message.type === 'tokens') await gate
    order.push(`end ${message.type}`)
  })
  sender.post({ type: 'tokens' })
  sender.post({ type: 'recovered' })
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(order, ['start tokens'], 'recovered waits behind tokens')
  const drained = sync.drained()
  release()
  await drained
  assert.deepEqual(order, ['start tokens', 'end tokens', 'start recovered', 'end recovered'])
  sync.close()
  sender.post({ type: 'recovered' })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(order.length, 4, 'closed: no more messages')

  const broken: TabChannel = {
    post() {
      throw new Error('closed')
    },
    subscribe: () => () => {},
    close() {},
  }
  assert.doesNotThrow(() => createTabSync(broken, async () => {}).post({ type: 'recovered' }))
})

test('tab sync: what each message asks the host to do', async () => {
  const calls: string[] = []
  let held: HeldTokens | null = pair(100)
  let stored: HeldTokens | null = null
  const host: TabSyncHost = {
    get held() {
      return held
    },
    hasStorage: true,
    adopt: (tokens) => void calls.push(`adopt ${tokens.iat}`),
    load: async () => {
      calls.push('load')
      return stored
    },
    forget: async () => void calls.push('forget'),
    endHere: () => void calls.push('endHere'),
    removeStored: async (session) => void calls.push(`removeStored ${session}`),
    recovered: () => void calls.push('recovered'),
    ended: (message) => void calls.push(`ended ${message.type}`),
  }
  const run = async (message: TabMessage): Promise<string[]> => {
    calls.length = 0
    await handleTabMessage(host, message)
    return [...calls]
  }
  assert.deepEqual(await run(tokensMessage(pair(200))), ['adopt 200', 'recovered'])
  assert.deepEqual(await run(tokensMessage(pair(50))), ['load', 'recovered'])
  assert.deepEqual(await run({ type: 'recovered' }), ['recovered'])
  assert.deepEqual(await run({ type: 'logout', session: 's1' }), ['endHere', 'removeStored s1', 'ended logout'])
  // Not known to be ours: ended only if the storage is empty too.
  stored = pair(100, 'mine')
  assert.deepEqual(await run({ type: 'logout', session: 's9' }), ['load'])
  stored = null
  assert.deepEqual(await run({ type: 'session-expired', code: 'token_reused' }), ['load', 'endHere', 'ended session-expired'])
  held = null
  const cookie: TabSyncHost = { ...host, hasStorage: false }
  calls.length = 0
  await handleTabMessage(cookie, { type: 'logout' })
  assert.deepEqual(calls, ['forget', 'ended logout'])
})
