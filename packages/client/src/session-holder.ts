/**
 * The held session: the state (session-state.ts), the storage it mirrors in body mode, and what
 * the app is told of it (`tokens`, `recovered`, the end events). Every state change goes
 * through {@link SessionHolder.apply}, so the table in session-state.ts is the whole story; the
 * refresh itself is refresh.ts's.
 */
import type { Emitter } from './events.js'
import { holdTokens, isLater, type HeldTokens } from './held-tokens.js'
import type { ResolvedClientOptions } from './options.js'
import { createRetryTimer, type RetryTimer } from './outage.js'
import { initialState, outageOf, tokensOf, transition, type SessionEvent, type SessionState } from './session-state.js'
import type { TabMessage } from './tab-channel.js'
import type { TabSyncHost } from './tab-sync.js'
import { readTokens, writeTokens, type StoredTokens } from './token-storage.js'

/** How the session ended, for the app's event. */
export type SessionEnd = { readonly type: 'logout' } | { readonly type: 'session-expired'; readonly code: string }

/** The session state of one client and its storage; also what tab messages act on. */
export class SessionHolder implements TabSyncHost {
  #state: SessionState
  /** A session was announced (`tokens`) and its end (logout, session-expired) not yet. */
  #announced = false
  /** The session's generation, bumped by every login and end: a refresh begun before is dropped. */
  #epoch = 0
  readonly #options: ResolvedClientOptions
  readonly #events: Emitter
  readonly #post: (message: TabMessage) => void
  /** The outage's background retry; cancelled whenever the state leaves the outage. */
  readonly retry: RetryTimer

  constructor(options: ResolvedClientOptions, events: Emitter, post: (message: TabMessage) => void) {
    this.#options = options
    this.#events = events
    this.#post = post
    this.#state = initialState(options.mode)
    this.retry = createRetryTimer(options.timers)
  }

  get state(): SessionState {
    return this.#state
  }

  get epoch(): number {
    return this.#epoch
  }

  get held(): HeldTokens | null {
    return tokensOf(this.#state)
  }

  get hasStorage(): boolean {
    return this.#options.storage !== null
  }

  /**
   * Moves to the state the table gives. The returned function fires `recovered` (and posts it)
   * when the table says so: returned, not fired, so the caller fires it after its own `tokens`
   * event, in SPEC order.
   */
  apply(event: SessionEvent): () => void {
    const { state, recovery } = transition(this.#state, event)
    this.#state = state
    if (outageOf(state) === null) this.retry.cancel()
    return () => {
      if (recovery === null) return
      this.#events.emit('recovered', {})
      if (recovery === 'broadcast') this.#post({ type: 'recovered' })
    }
  }

  /** Fires `tokens` for `tokens`. */
  announce(tokens: HeldTokens): void {
    this.#announced = true
    this.#events.emit('tokens', { access: tokens.access, expiresAt: tokens.expiresAt })
  }

  /** Tokens that another tab (or an earlier page) stored: take them as ours. */
  adopt(tokens: HeldTokens): void {
    const recovered = this.apply({ type: 'stored', tokens, now: this.#options.now() })
    this.announce(tokens)
    recovered()
  }

  /** The current tokens; in body mode read from the storage, adopting another tab's changes. */
  async load(): Promise<HeldTokens | null> {
    const stored = await this.readStored()
    if (stored === undefined) return this.held
    const held = this.held
    if (stored === null) {
      if (held !== null) this.apply({ type: 'stored', tokens: null, now: this.#options.now() })
      return null
    }
    // The same pair: already decoded.
    if (held !== null && held.access === stored.access) return held
    const found = holdTokens(stored)
    // A browser may show this tab the shared storage a moment late: never step back to an
    // earlier pair of the session this tab already holds a later pair of.
    if (held !== null && isLater(held, found)) return held
    this.adopt(found)
    return found
  }

  /** The stored record; `undefined` without a storage (cookie mode). */
  async readStored(): Promise<StoredTokens | null | undefined> {
    const { storage, storageKey } = this.#options
    return storage === null ? undefined : readTokens(storage, storageKey)
  }

  /** Writes `tokens` to the storage, if there is one. */
  async write(tokens: HeldTokens): Promise<void> {
    const { storage, storageKey } = this.#options
    if (storage !== null) await writeTokens(storage, storageKey, tokens.stored)
  }

  /** A new session begins (a login): a refresh begun before is dropped. */
  begin(tokens: HeldTokens): () => void {
    this.#epoch += 1
    return this.apply({ type: 'login', tokens })
  }

  /** Ends the session without touching the storage (no event). */
  endHere(): void {
    this.#epoch += 1
    this.apply({ type: 'ended' })
  }

  /** Ends the session and clears the storage (no event). */
  async forget(): Promise<void> {
    this.endHere()
    const { storage, storageKey } = this.#options
    if (storage !== null) await storage.remove(storageKey)
  }

  /** Removes the stored record if it is session `session`'s, never a newer session's. */
  async removeStored(session: string): Promise<void> {
    const stored = await this.readStored()
    if (stored == null || holdTokens(stored).sid !== session) return
    const { storage, storageKey } = this.#options
    await storage?.remove(storageKey)
  }

  /** The server answers again (another tab said so): ends an outage. */
  recovered(): void {
    this.apply({ type: 'recovered' })()
  }

  /** Tells the app the session ended, once, and only if it was told of a session. */
  ended(end: SessionEnd): void {
    if (!this.#announced) return
    this.#announced = false
    if (end.type === 'logout') this.#events.emit('logout', {})
    else this.#events.emit('session-expired', { code: end.code })
  }
}
