/**
 * Serialises refreshes. In browsers the Web Locks API makes the lock span every tab of an
 * origin (SPEC §6); elsewhere an in-process lock serialises the clients of one process. The
 * lock is a plain function so tests and unusual hosts can pass their own (supabase auth-js's
 * `navigatorLock(name, timeout, fn)` is the model).
 */

/** Runs `fn` while holding the lock `name`, and resolves with its result. */
export type Lock = <R>(name: string, fn: () => Promise<R>) => Promise<R>

/**
 * A lock that serialises callers of one JavaScript realm (one tab, one Node process), first
 * come first served. A failing `fn` releases the lock too.
 */
export function createInProcessLock(): Lock {
  const tails = new Map<string, Promise<void>>()
  return async function inProcessLock<R>(name: string, fn: () => Promise<R>): Promise<R> {
    const previous = tails.get(name) ?? Promise.resolve()
    let release = (): void => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => held)
    tails.set(name, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (tails.get(name) === tail) tails.delete(name)
    }
  }
}

/** The lock behind `navigator.locks`, or `undefined` where the Web Locks API is missing. */
export function createWebLock(locks: LockManager | undefined = globalThis.navigator?.locks): Lock | undefined {
  if (locks === undefined || typeof locks.request !== 'function') return undefined
  return function webLock<R>(name: string, fn: () => Promise<R>): Promise<R> {
    return locks.request(name, () => fn()) as Promise<R>
  }
}

const processLock = createInProcessLock()

const storageIds = new WeakMap<object, number>()
let lastStorageId = 0

/**
 * The name a client's refreshes lock under. With Web Locks, or a lock the caller passed, every
 * client of one `baseURL` shares it, as the tabs of an origin share their storage. The in-process
 * default serialises the clients of one realm, which in Node are often different users (a
 * server or a test rig acting for many): there each storage object gets its own name, so the
 * clients that share a storage (two "tabs") still take turns while other users' refreshes never
 * queue behind them (the chaos run of issue 15 saw one shared lock delay retries by 20 s).
 */
export function refreshLockName(lock: Lock, baseURL: string, storage: object | null): string {
  const name = `baton:refresh:${baseURL}`
  if (lock !== processLock) return name
  let id = storage === null ? undefined : storageIds.get(storage)
  if (id === undefined) {
    id = ++lastStorageId
    if (storage !== null) storageIds.set(storage, id)
  }
  return `${name}#${id}`
}

/**
 * The default: Web Locks when present, else one in-process lock shared by every client of this
 * realm.
 */
export function defaultLock(): Lock {
  return createWebLock() ?? processLock
}
