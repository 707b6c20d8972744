import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createInProcessLock, createWebLock, defaultLock } from '../src/tab-lock.js'

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/**
 * Sets globalThis.navigator for one test and puts the host's own back after: Node 22 has a
 * navigator without Web Locks, Node 24's has `navigator.locks`, so no test may rely on either.
 */
function setNavigator(t: TestContext, value: object): void {
  const own = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
  Object.defineProperty(globalThis, 'navigator', { value, configurable: true })
  t.after(() => {
    if (own) Object.defineProperty(globalThis, 'navigator', own)
    else Reflect.deleteProperty(globalThis, 'navigator')
  })
}

test('tab-lock: the in-process lock runs holders of one name one at a time, first come first served', async () => {
  const lock = createInProcessLock()
  const order: string[] = []
  const gate = deferred()
  const first = lock('n', async () => {
    order.push('first:start')
    await gate.promise
    order.push('first:end')
    return 1
  })
  const second = lock('n', async () => {
    order.push('second')
    return 2
  })
  const other = lock('other', async () => {
    order.push('other')
    return 3
  })
  assert.equal(await other, 3)
  assert.deepEqual(order, ['first:start', 'other'])
  gate.resolve()
  assert.deepEqual(await Promise.all([first, second]), [1, 2])
  assert.deepEqual(order, ['first:start', 'other', 'first:end', 'second'])
})

test('tab-lock: a holder that throws releases the lock', async () => {
  const lock = createInProcessLock()
  await assert.rejects(
    lock('n', async () => {
      throw new Error('boom')
    }),
    /boom/,
  )
  assert.equal(await lock('n', async () => 'next'), 'next')
})

test('tab-lock: createWebLock goes through navigator.locks.request', async (t) => {
  const requested: string[] = []
  const locks = {
    request(name: string, callback: (lock: unknown) => unknown) {
      requested.push(name)
      return Promise.resolve(callback({ name, mode: 'exclusive' }))
    },
  } as unknown as LockManager
  const lock = createWebLock(locks)
  assert.ok(lock)
  assert.equal(await lock('baton:refresh:x', async () => 'done'), 'done')
  assert.deepEqual(requested, ['baton:refresh:x'])
  setNavigator(t, {})
  assert.equal(createWebLock(undefined), undefined, 'a host without Web Locks')
})

test('tab-lock: the default lock is Web Locks when navigator.locks exists', async (t) => {
  const requested: string[] = []
  const locks = {
    request(name: string, callback: () => unknown) {
      requested.push(name)
      return Promise.resolve(callback())
    },
  }
  setNavigator(t, { locks })
  await defaultLock()('web', async () => undefined)
  assert.deepEqual(requested, ['web'])
})

test('tab-lock: without Web Locks the default is one in-process lock shared by every client', async (t) => {
  setNavigator(t, {})
  assert.equal(globalThis.navigator?.locks, undefined)
  const a = defaultLock()
  const b = defaultLock()
  const order: string[] = []
  const gate = deferred()
  const first = a('shared', async () => {
    await gate.promise
    order.push('a')
  })
  const second = b('shared', async () => {
    order.push('b')
  })
  gate.resolve()
  await Promise.all([first, second])
  assert.deepEqual(order, ['a', 'b'])
})
