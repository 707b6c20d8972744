/**
 * Tells the other tabs of an origin about new tokens, logout, session end and recovery
 * (SPEC §6). BroadcastChannel where it exists; otherwise the `storage` event of
 * localStorage, which fires in every other tab of the origin (better-auth's fallback).
 */
import { isLifetime } from './token-storage.js'

/** What one tab tells the others. */
export type TabMessage =
  /**
   * New tokens, with the clock skew and lifetime measured when they were received. Cookie mode
   * has no refresh token to share (it is the HttpOnly cookie). In body mode the pair is in the
   * shared storage too, but a browser may show another tab that storage a moment late (Chromium
   * caches localStorage per renderer process), so the message carries it as well.
   */
  | { type: 'tokens'; access?: string; refresh?: string; skew?: number; lifetime?: number }
  /**
   * The user logged out. `session` is the session's id (the tokens' `sid`) when known, so every
   * tab holding that session ends it without relying on reading the storage.
   */
  | { type: 'logout'; session?: string }
  /** A refresh was answered 401: the session is over. `session` as for `logout`. */
  | { type: 'session-expired'; code: string; session?: string }
  /** A refresh succeeded after an outage. */
  | { type: 'recovered' }

/** A message bus between the tabs of one origin; messages are not delivered to their sender. */
export interface TabChannel {
  /** Sends `message` to the other tabs. */
  post(message: TabMessage): void
  /** Calls `listener` for every message from another tab; returns the unsubscribe function. */
  subscribe(listener: (message: TabMessage) => void): () => void
  /** Stops sending and receiving. */
  close(): void
}

/** Checks a value received from another tab (or another version of this library). */
export function parseTabMessage(data: unknown): TabMessage | null {
  if (typeof data !== 'object' || data === null) return null
  const message = data as Record<string, unknown>
  switch (message['type']) {
    case 'tokens': {
      const access = message['access']
      const refresh = message['refresh']
      const skew = message['skew']
      const lifetime = message['lifetime']
      if (access !== undefined && typeof access !== 'string') return null
      if (refresh !== undefined && typeof refresh !== 'string') return null
      if (skew !== undefined && (typeof skew !== 'number' || !Number.isFinite(skew))) return null
      if (lifetime !== undefined && !isLifetime(lifetime)) return null
      return {
        type: 'tokens',
        ...(access === undefined ? {} : { access }),
        ...(refresh === undefined ? {} : { refresh }),
        ...(skew === undefined ? {} : { skew }),
        ...(lifetime === undefined ? {} : { lifetime }),
      }
    }
    case 'logout':
    case 'session-expired': {
      const { code, session } = message
      if (session !== undefined && typeof session !== 'string') return null
      const about = session === undefined ? {} : { session }
      if (message['type'] === 'logout') return { type: 'logout', ...about }
      return typeof code === 'string' ? { type: 'session-expired', code, ...about } : null
    }
    case 'recovered':
      return { type: 'recovered' }
    default:
      return null
  }
}

function createListenerSet(): {
  add(listener: (message: TabMessage) => void): () => void
  deliver(data: unknown): void
  clear(): void
} {
  const listeners = new Set<(message: TabMessage) => void>()
  return {
    add(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    deliver(data) {
      const message = parseTabMessage(data)
      if (message === null) return
      for (const listener of [...listeners]) listener(message)
    },
    clear() {
      listeners.clear()
    },
  }
}

/**
 * A channel over `BroadcastChannel(name)`. In Node it is `unref`ed so it never keeps the
 * process alive.
 */
export function createBroadcastChannel(name: string): TabChannel {
  const channel = new BroadcastChannel(name)
  const listeners = createListenerSet()
  channel.onmessage = (event: MessageEvent) => listeners.deliver(event.data)
  ;(channel as { unref?: () => void }).unref?.()
  return {
    post: (message) => channel.postMessage(message),
    subscribe: (listener) => listeners.add(listener),
    close() {
      listeners.clear()
      channel.close()
    },
  }
}

/** The part of `window` the storage-event channel needs. */
export interface StorageEventSource {
  addEventListener(type: 'storage', listener: (event: StorageEventLike) => void): void
  removeEventListener(type: 'storage', listener: (event: StorageEventLike) => void): void
}

/** The fields of a `StorageEvent` the channel reads. */
export interface StorageEventLike {
  key: string | null
  newValue: string | null
}

/** The part of `Storage` the storage-event channel needs. */
export interface StorageLike {
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

let messageCounter = 0

/**
 * A channel over the `storage` event, for browsers without BroadcastChannel: a message is
 * written to `localStorage` under `<name>:message` and removed at once; every other tab of
 * the origin gets a `storage` event carrying it. A nonce makes two equal messages distinct.
 */
export function createStorageEventChannel(
  name: string,
  source: StorageEventSource = window,
  storage: StorageLike = window.localStorage,
): TabChannel {
  const key = `${name}:message`
  const listeners = createListenerSet()
  const onStorage = (event: StorageEventLike): void => {
    if (event.key !== key || event.newValue === null) return
    let envelope: unknown
    try {
      envelope = JSON.parse(event.newValue)
    } catch {
      return
    }
    if (typeof envelope === 'object' && envelope !== null) {
      listeners.deliver((envelope as { message?: unknown }).message)
    }
  }
  source.addEventListener('storage', onStorage)
  return {
    post(message) {
      messageCounter += 1
      const random = Math.random().toString(36).slice(2)
      const nonce = `${Date.now().toString(36)}.${messageCounter}.${random}`
      storage.setItem(key, JSON.stringify({ nonce, message }))
      storage.removeItem(key)
    },
    subscribe: (listener) => listeners.add(listener),
    close() {
      listeners.clear()
      source.removeEventListener('storage', onStorage)
    },
  }
}

/** A channel that sends nothing and hears nothing (one client alone, as in Node). */
export function createNoopChannel(): TabChannel {
  return {
    post() {},
    subscribe: () => () => {},
    close() {},
  }
}

/**
 * The default channel: in a browser, BroadcastChannel, else the storage-event fallback; in
 * Node (no tabs) none, so two clients of one process never adopt each other's tokens.
 */
export function defaultChannel(name: string): TabChannel {
  if (typeof window === 'undefined' || typeof window.document === 'undefined') {
    return createNoopChannel()
  }
  if (typeof BroadcastChannel === 'function') return createBroadcastChannel(name)
  try {
    return createStorageEventChannel(name, window, window.localStorage)
  } catch {
    // localStorage can throw (disabled storage, sandboxed frames): stay alone.
    return createNoopChannel()
  }
}
