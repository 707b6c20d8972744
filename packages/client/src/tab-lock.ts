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

/**
 * How long past the client's own call timeout a tab waits for the refresh lock before it takes
 * the lock from its holder (ms). A holder that is still running finishes its refresh within the
 * timeout; one that holds the lock longer is frozen or stuck.
 */
export const LOCK_STEAL_SLACK_MS = 2_000

/**
 * The lock behind `navigator.locks`, or `undefined` where the Web Locks API is missing.
 *
 * A plain `locks.request(name, fn)` waits for ever while the holder's page is frozen (Chromium's
 * page lifecycle freezes background tabs, and a frozen page keeps its locks): supabase-js met
 * those deadlocks in the field and removed its lock. Here a tab waits at most `waitMs`, then
 * requests the lock with `steal: true`. Stealing is safe because of the server's grace window
 * (SPEC §3.2): if the frozen holder's refresh did reach the server, presenting the same token
 * again answers the same successor, and both tabs converge on one pair. The holder whose lock
 * was stolen still gets its own refresh's result (its `locks.request` rejects, its work does not).
 *
 * The limit: the grace window runs from the frozen holder's request, the wait from this tab's
 * own request for the lock. A tab that starts waiting more than (grace − waitMs) = 3 s after the
 * frozen holder's refresh reached the server presents a token rotated longer ago than the grace
 * window: reuse, and the session ends (not a deadlock; it needs a tab frozen in the few
 * milliseconds between sending a refresh and reading its answer). A holder frozen before it
 * sent is safe: its storage read and its send run in one task, and a frozen page stops between
 * tasks, so after the thaw it reads the stealer's pair and adopts it.
 */
export function createWebLock(locks: LockManager | undefined = globalThis.navigator?.locks, waitMs = 12_000): Lock | undefined {
  if (locks === undefined || typeof locks.request !== 'function') return undefined
  return async function webLock<R>(name: string, fn: () => Promise<R>): Promise<R> {
    let work: Promise<R> | undefined
    const run = (): Promise<R> => (work = fn())
    const wait = new AbortController()
    const timer = globalThis.setTimeout(() => wait.abort(), waitMs)
    try {
      return (await locks.request(name, { signal: wait.signal }, run)) as R
    } catch (err) {
      // Granted, then stolen by another tab: this tab's refresh still decides its own result.
      if (work !== undefined) return work
      if (!wait.signal.aborted) throw err
    } finally {
      globalThis.clearTimeout(timer)
    }
    // Not granted within waitMs: the holder is frozen or stuck. Take the lock.
    try {
      return (await locks.request(name, { steal: true }, run)) as R
    } catch (err) {
      if (work !== undefined) return work
      throw err
    }
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
 * The default: Web Locks when present (waiting at most `waitMs` for a holder before stealing),
 * else one in-process lock shared by every client of this realm.
 */
export function defaultLock(waitMs?: number): Lock {
  return createWebLock(globalThis.navigator?.locks, waitMs) ?? processLock
}
