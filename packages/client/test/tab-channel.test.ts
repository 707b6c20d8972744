import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createBroadcastChannel,
  createNoopChannel,
  createStorageEventChannel,
  defaultChannel,
  parseTabMessage,
  type StorageEventLike,
  type StorageEventSource,
  type TabMessage,
} from '../src/tab-channel.js'

function waitFor(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (predicate()) resolve()
      else setImmediate(check)
    }
    check()
  })
}

test('tab-channel: BroadcastChannel delivers to the other channels of the name, not to the sender', async (t) => {
  const name = `baton:test:${Math.random()}`
  const a = createBroadcastChannel(name)
  const b = createBroadcastChannel(name)
  const c = createBroadcastChannel(`${name}:other`)
  t.after(() => {
    a.close()
    b.close()
    c.close()
  })
  const atA: TabMessage[] = []
  const atB: TabMessage[] = []
  const atC: TabMessage[] = []
  a.subscribe((message) => atA.push(message))
  b.subscribe((message) => atB.push(message))
  c.subscribe((message) => atC.push(message))
  // Junk from another library on the same name is ignored.
  const raw = new BroadcastChannel(name)
  raw.postMessage({ type: 'tokens', access: 42 })
  raw.postMessage('hello')
  raw.close()
  a.post({ type: 'session-expired', code: 'token_reused' })
  await waitFor(() => atB.length > 0)
  assert.deepEqual(atB, [{ type: 'session-expired', code: 'token_reused' }])
  assert.deepEqual(atA, [])
  assert.deepEqual(atC, [])
})

/** Two fake tabs over one localStorage: a write in one fires `storage` in the others only. */
function fakeOrigin() {
  const values = new Map<string, string>()
  const windows: EventTarget[] = []
  function tab() {
    const target = new EventTarget()
    windows.push(target)
    const fire = (key: string, newValue: string | null): void => {
      for (const other of windows) {
        if (other === target) continue
        const event = Object.assign(new Event('storage'), { key, newValue })
        other.dispatchEvent(event)
      }
    }
    const source: StorageEventSource = {
      addEventListener: (type, listener) => target.addEventListener(type, listener as unknown as EventListener),
      removeEventListener: (type, listener) => target.removeEventListener(type, listener as unknown as EventListener),
    }
    const storage = {
      setItem(key: string, value: string) {
        values.set(key, value)
        fire(key, value)
      },
      removeItem(key: string) {
        values.delete(key)
        fire(key, null)
      },
    }
    return { source, storage }
  }
  return { tab, values }
}

test('tab-channel: the storage-event fallback delivers to other tabs and leaves nothing stored', () => {
  const origin = fakeOrigin()
  const one = origin.tab()
  const two = origin.tab()
  const a = createStorageEventChannel('baton:x', one.source, one.storage)
  const b = createStorageEventChannel('baton:x', two.source, two.storage)
  const atA: TabMessage[] = []
  const atB: TabMessage[] = []
  a.subscribe((message) => atA.push(message))
  b.subscribe((message) => atB.push(message))
  a.post({ type: 'logout' })
  a.post({ type: 'logout' })
  b.post({ type: 'tokens', access: 'x.y.z', skew: 5 })
  assert.deepEqual(atB, [{ type: 'logout' }, { type: 'logout' }])
  assert.deepEqual(atA, [{ type: 'tokens', access: 'x.y.z', skew: 5 }])
  assert.equal(origin.values.size, 0)
  b.close()
  a.post({ type: 'recovered' })
  assert.equal(atB.length, 2)
})

test('tab-channel: the storage-event fallback ignores other keys and unreadable values', () => {
  const received: TabMessage[] = []
  let listener: ((event: StorageEventLike) => void) | undefined
  const source: StorageEventSource = {
    addEventListener: (_type, l) => {
      listener = l
    },
    removeEventListener: () => {},
  }
  const channel = createStorageEventChannel('baton:y', source, { setItem() {}, removeItem() {} })
  channel.subscribe((message) => received.push(message))
  listener?.({ key: 'baton:tokens:https://api.test/', newValue: '{"message":{"type":"logout"}}' })
  listener?.({ key: 'baton:y:message', newValue: 'not json' })
  listener?.({ key: 'baton:y:message', newValue: null })
  listener?.({ key: 'baton:y:message', newValue: '{"message":{"type":"logout"}}' })
  assert.deepEqual(received, [{ type: 'logout' }])
})

test('tab-channel: parseTabMessage accepts the four messages and refuses anything else', () => {
  assert.deepEqual(parseTabMessage({ type: 'tokens' }), { type: 'tokens' })
  assert.deepEqual(parseTabMessage({ type: 'recovered', extra: 1 }), { type: 'recovered' })
  assert.deepEqual(parseTabMessage({ type: 'tokens', access: 'a', skew: -5, lifetime: 4_000 }), {
    type: 'tokens',
    access: 'a',
    skew: -5,
    lifetime: 4_000,
  })
  for (const junk of [
    null,
    'logout',
    { type: 'nope' },
    { type: 'session-expired' },
    { type: 'tokens', skew: 'x' },
    { type: 'tokens', lifetime: -1 },
    { type: 'tokens', lifetime: '5' },
  ]) {
    assert.equal(parseTabMessage(junk), null)
  }
})

test('tab-channel: outside a browser the default channel is silent', () => {
  const channel = defaultChannel('baton:node')
  let heard = 0
  channel.subscribe(() => {
    heard += 1
  })
  channel.post({ type: 'logout' })
  channel.close()
  assert.equal(heard, 0)
  const noop = createNoopChannel()
  noop.post({ type: 'logout' })
  noop.close()
})
