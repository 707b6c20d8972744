/**
 * Builds the pieces of a test "browser": a fake server on a fake clock, a fake fetch, and
 * tabs (clients) that share a storage, a lock and a channel hub as tabs of one origin do.
 */
import { createAuthClient, type AuthClient } from '../../src/client.js'
import type { AuthEventMap, AuthEventName } from '../../src/events.js'
import type { AuthClientOptions } from '../../src/options.js'
import { createInProcessLock } from '../../src/tab-lock.js'
import { createMemoryStorage, type TokenStorage } from '../../src/token-storage.js'
import { createChannelHub } from './channel-hub.js'
import { BASE_URL, createFakeBrowser } from './fake-browser.js'
import { createFakeServer, type FakeServerOptions } from './fake-server.js'
import { createFakeTime } from './fake-time.js'

export interface WorldOptions {
  /** Server clock minus client clock, in ms. @default 0 */
  serverSkew?: number
  server?: Omit<FakeServerOptions, 'now'>
}

/** One fake origin: server, browser, clock, and the shared storage/lock/channel of its tabs. */
export function createWorld(worldOptions: WorldOptions = {}) {
  const time = createFakeTime()
  const server = createFakeServer({
    ...worldOptions.server,
    now: () => time.now() + (worldOptions.serverSkew ?? 0),
  })
  const browser = createFakeBrowser(server)
  const hub = createChannelHub()
  const lock = createInProcessLock()
  /** Shared by every tab, as localStorage is. */
  const storage: TokenStorage = createMemoryStorage()
  const clients: AuthClient[] = []

  /** A tab: a client with the world's fake pieces, overridable per test. */
  function tab(overrides: AuthClientOptions = {}): AuthClient {
    const mode = overrides.mode ?? worldOptions.server?.mode ?? 'body'
    const client = createAuthClient({
      baseURL: BASE_URL,
      fetch: browser.fetch,
      now: time.now,
      timers: time.timers,
      random: () => 0.5,
      lock,
      channel: hub.channel(),
      mode,
      ...(mode === 'body' ? { storage } : {}),
      ...overrides,
    })
    clients.push(client)
    return client
  }

  return {
    time,
    server,
    browser,
    hub,
    lock,
    storage,
    tab,
    close() {
      for (const client of clients) client.close()
    },
  }
}

/** Records every event a client fires, in order. */
export function recordEvents(client: AuthClient): { name: AuthEventName; payload: unknown }[] {
  const seen: { name: AuthEventName; payload: unknown }[] = []
  for (const name of ['tokens', 'degraded', 'recovered', 'session-expired', 'logout'] as const) {
    client.on(name, (payload) => seen.push({ name, payload }))
  }
  return seen
}

/** Resolves with the next payload of `event`. */
export function nextEvent<E extends AuthEventName>(client: AuthClient, event: E): Promise<AuthEventMap[E]> {
  return new Promise((resolve) => {
    const off = client.on(event, (payload) => {
      off()
      resolve(payload)
    })
  })
}

/** Lets every pending promise chain and queued message run (no timers involved). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * A tab's view of a shared storage that can fall behind, as Chromium's per-process cache of
 * localStorage does for a moment after another tab writes: while frozen, reads return the
 * value seen at `freeze()`; writes go through.
 */
export function createLaggingView(shared: TokenStorage) {
  let frozen: Map<string, string | null | undefined> | null = null
  const storage: TokenStorage = {
    get: async (key) => (frozen?.has(key) === true ? frozen.get(key) : shared.get(key)),
    set: (key, value) => shared.set(key, value),
    remove: (key) => shared.remove(key),
  }
  return {
    storage,
    async freeze(key: string): Promise<void> {
      frozen = new Map([[key, await shared.get(key)]])
    },
    catchUp(): void {
      frozen = null
    },
  }
}
