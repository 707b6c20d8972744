/** A tiny typed event emitter for the client's events (SPEC §6). */
import type { BatonClientError } from './errors.js'

/**
 * Payload of `tokens`: fired after every login or refresh, and when tokens are adopted from
 * another tab or from storage.
 */
export interface TokensEvent {
  /** The new access token. */
  access: string
  /**
   * When the access token expires, in milliseconds since the epoch on the LOCAL clock (the
   * server's `exp` corrected by the estimated clock skew); `null` when the token has no `exp`.
   */
  expiresAt: number | null
}

/**
 * Payload of `degraded`: fired once per outage, when a refresh first fails with 503 or a
 * network error.
 */
export interface DegradedEvent {
  /** Seconds until the next refresh attempt. */
  retryAfter: number
  /** The {@link HTTPError} (503 `store_unavailable`, …) or {@link NetworkError} seen. */
  cause: BatonClientError
}

/** Payload of `session-expired`: a refresh was answered 401, here or in another tab. */
export interface SessionExpiredEvent {
  /** The server's code: `token_not_valid`, `token_revoked`, `token_reused`, … */
  code: string
}

/** Every event of the client and its payload. */
export interface AuthEventMap {
  tokens: TokensEvent
  degraded: DegradedEvent
  /** One per outage: a refresh succeeded again, in this tab or another. */
  recovered: Record<string, never>
  'session-expired': SessionExpiredEvent
  /** `logout()` was called, here or in another tab. */
  logout: Record<string, never>
}

/** The name of a client event. */
export type AuthEventName = keyof AuthEventMap

/** A listener for event `E`. */
export type AuthEventListener<E extends AuthEventName> = (payload: AuthEventMap[E]) => void

/** What {@link createEmitter} returns. */
export interface Emitter {
  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void
  emit<E extends AuthEventName>(event: E, payload: AuthEventMap[E]): void
  clear(): void
}

/**
 * Creates an emitter. A listener that throws does not stop the others nor the client: its
 * error is reported (`reportError` in browsers, `console.error` elsewhere).
 */
export function createEmitter(): Emitter {
  const listeners = new Map<AuthEventName, Set<(payload: never) => void>>()
  return {
    on(event, listener) {
      let set = listeners.get(event)
      if (set === undefined) {
        set = new Set()
        listeners.set(event, set)
      }
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },
    emit(event, payload) {
      const set = listeners.get(event)
      if (set === undefined) return
      for (const listener of [...set]) {
        try {
          ;(listener as AuthEventListener<typeof event>)(payload)
        } catch (error) {
          report(error)
        }
      }
    },
    clear() {
      listeners.clear()
    },
  }
}

function report(error: unknown): void {
  const host = globalThis as { reportError?: (error: unknown) => void }
  if (typeof host.reportError === 'function') host.reportError(error)
  else console.error(error)
}
