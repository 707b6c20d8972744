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
    request(name: string, _options: LockOptions, callback: (lock: unknown) => unknown) {
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
    request(name: string, _options: LockOptions, callback: () => unknown) {
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

/**
 * The Web Locks semantics the stealing relies on (one exclusive name): requests queue; a request
 * whose `signal` aborts before its grant rejects with the signal's reason; `steal: true` is
 * granted at once and the holder's request rejects with an AbortError while its callback runs on.
 * Chromium's own behaviour, with a frozen tab, is tested in browser-frozen-tab.test.ts.
 */
function fakeLocks(): LockManager & { log: string[] } {
  type Waiter = { grant: () => void; fail: (err: unknown) => void }
  let holder: Waiter | null = null
  const queue: Waiter[] = []
  const log: string[] = []
  const next = (): void => {
    holder = queue.shift() ?? null
    holder?.grant()
  }
  const request = (name: string, options: LockOptions, callback: () => Promise<unknown>): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          log.push(`granted${options.steal === true ? ' (steal)' : ''}`)
          callback().then(
            (value) => {
              if (holder === waiter) next()
              resolve(value)
            },
            (err: unknown) => {
              if (holder === waiter) next()
              reject(err)
            },
          )
        },
        fail: reject,
      }
      if (options.steal === true) {
        const robbed = holder
        holder = waiter
        robbed?.fail(new DOMException('The lock was stolen', 'AbortError'))
        waiter.grant()
        return
      }
      options.signal?.addEventListener('abort', () => {
        const i = queue.indexOf(waiter)
        if (i < 0) return
        queue.splice(i, 1)
        log.push('gave up waiting')
        reject(options.signal?.reason)
      })
      if (holder === null) {
        holder = waiter
        waiter.grant()
      } else queue.push(waiter)
    })
  return { request, query: async () => ({}), log } as unknown as LockManager & { log: string[] }
}

test('tab-lock: a holder that never releases (a frozen tab) is stolen from after waitMs; both get their own result', async () => {
  const locks = fakeLocks()
  const lock = createWebLock(locks, 50) as NonNullable<ReturnType<typeof createWebLock>>
  const frozen = deferred()
  const holder = lock('n', async () => {
    await frozen.promise
    return 'holder'
  })
  const started = Date.now()
  assert.equal(await lock('n', async () => 'waiter'), 'waiter')
  assert.ok(Date.now() - started >= 45, 'the waiter waited for waitMs first')
  assert.deepEqual(locks.log, ['granted', 'gave up waiting', 'granted (steal)'])
  // The page thaws: its refresh finishes and answers its caller, although its lock was taken.
  frozen.resolve()
  assert.equal(await holder, 'holder')
})

test('tab-lock: a holder that releases within waitMs is waited for, never stolen from', async () => {
  const locks = fakeLocks()
  const lock = createWebLock(locks, 1000) as NonNullable<ReturnType<typeof createWebLock>>
  const gate = deferred()
  const holder = lock('n', async () => {
    await gate.promise
    return 1
  })
  const waiter = lock('n', async () => 2)
  setTimeout(() => gate.resolve(), 20)
  assert.deepEqual(await Promise.all([holder, waiter]), [1, 2])
  assert.deepEqual(locks.log, ['granted', 'granted'])
})

test('tab-lock: the error of a failing holder reaches its caller, and the lock is free again', async () => {
  const lock = createWebLock(fakeLocks(), 1000) as NonNullable<ReturnType<typeof createWebLock>>
  await assert.rejects(
    lock('n', async () => {
      throw new Error('boom')
    }),
    /boom/,
  )
  assert.equal(await lock('n', async () => 'next'), 'next')
})
