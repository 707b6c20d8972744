/**
 * Tab sync (SPEC §6): what this tab tells the others (new tokens, logout, session end,
 * recovery) and what a message from another tab asks of this one. The channel is tab-channel.ts;
 * the lock that keeps tabs from refreshing together is tab-lock.ts; the core (refresh.ts) carries
 * out the actions decided here.
 */
import { isLater, tokensFromMessage, type HeldTokens } from './held-tokens.js'
import type { TabChannel, TabMessage } from './tab-channel.js'

/** A channel subscription whose messages are handled one after another. */
export interface TabSync {
  /** Sends `message` to the other tabs; a broken channel is ignored. */
  post(message: TabMessage): void
  /** Resolves once every message received so far has been handled. */
  drained(): Promise<void>
  /** Stops listening. */
  close(): void
}

/**
 * Subscribes `handle` to `channel`. Messages are handled in the order they came: handling
 * `tokens` may read the storage (async), and a `recovered` right behind it must not overtake it.
 */
export function createTabSync(channel: TabChannel, handle: (message: TabMessage) => Promise<void>): TabSync {
  let queue = Promise.resolve()
  const unsubscribe = channel.subscribe((message) => {
    queue = queue.then(() => handle(message)).catch(() => {})
  })
  return {
    post(message) {
      try {
        channel.post(message)
      } catch {
        // A closed or broken channel must not fail a login or a refresh; the other tabs still
        // see the storage change on their next request.
      }
    },
    drained: () => queue,
    close: unsubscribe,
  }
}

/** The `tokens` message for the other tabs (cookie mode has no refresh token to share). */
export function tokensMessage({ stored }: HeldTokens): TabMessage {
  return {
    type: 'tokens',
    access: stored.access,
    skew: stored.skew,
    ...(stored.lifetime === undefined ? {} : { lifetime: stored.lifetime }),
    ...(stored.refresh === null ? {} : { refresh: stored.refresh }),
  }
}

/** The `session` field of logout and session-expired messages. */
export function aboutSession(tokens: HeldTokens | null): { session?: string } {
  const sid = tokens?.sid
  return sid === undefined ? {} : { session: sid }
}

/** What another tab's `tokens` message asks of this tab. */
export type TokensAction =
  /** Take this pair as ours now. */
  | { readonly kind: 'adopt'; readonly tokens: HeldTokens }
  /** Let the storage decide (load it). */
  | { readonly kind: 'load' }
  /** Nothing to take. */
  | { readonly kind: 'none' }

/**
 * Body mode: a later pair of this tab's own session is taken at once, even if the storage still
 * shows this tab the earlier one (a browser may show the shared storage a moment late);
 * anything else is judged by the storage. Cookie mode: the tabs share the cookie, so another
 * tab's access token is ours too.
 */
export function onTokensMessage(
  message: Extract<TabMessage, { type: 'tokens' }>,
  held: HeldTokens | null,
  hasStorage: boolean,
): TokensAction {
  const { access, refresh } = message
  if (hasStorage) {
    if (access === undefined || refresh === undefined || held === null) return { kind: 'load' }
    const sent = tokensFromMessage(access, refresh, message)
    return isLater(sent, held) ? { kind: 'adopt', tokens: sent } : { kind: 'load' }
  }
  if (access === undefined || access === held?.access) return { kind: 'none' }
  return { kind: 'adopt', tokens: tokensFromMessage(access, null, message) }
}

/** What another tab's logout or session end asks of this tab. */
export type EndedAction =
  /** Cookie mode: every tab of the origin shares the cookie, hence the session: end it. */
  | 'forget'
  /**
   * Not known to be this tab's session: the storage says whether it was shared with that tab
   * (localStorage) or is this tab's own (sessionStorage, memory).
   */
  | 'if-storage-empty'
  /**
   * This tab's session, by its id: end it, trusting the id over a storage read that may lag,
   * and remove the stored record only if it is that session's.
   */
  | 'own-session'

/** Decides {@link EndedAction} for a `logout` or `session-expired` message. */
export function onEndedMessage(
  message: Extract<TabMessage, { type: 'logout' | 'session-expired' }>,
  held: HeldTokens | null,
  hasStorage: boolean,
): EndedAction {
  if (!hasStorage) return 'forget'
  if (message.session === undefined || message.session !== held?.sid) return 'if-storage-empty'
  return 'own-session'
}

/** What a message from another tab may do in this tab's session core (refresh.ts). */
export interface TabSyncHost {
  /** The pair this tab holds. */
  readonly held: HeldTokens | null
  /** Body mode (a storage); cookie mode has none. */
  readonly hasStorage: boolean
  /** Takes `tokens` as this tab's (fires `tokens`). */
  adopt(tokens: HeldTokens): void
  /** Reads the storage, adopting what changed; resolves with the pair it holds then. */
  load(): Promise<HeldTokens | null>
  /** Ends the session and clears the storage (no event). */
  forget(): Promise<void>
  /** Ends the session without touching the storage (no event). */
  endHere(): void
  /** Removes the stored record if it belongs to session `session`. */
  removeStored(session: string): Promise<void>
  /** The server answers again: ends an outage (fires `recovered`). */
  recovered(): void
  /** Tells the app the session ended (`logout` or `session-expired`), if it was told of one. */
  ended(message: Extract<TabMessage, { type: 'logout' | 'session-expired' }>): void
}

/** Carries out what `message` asks of this tab. */
export async function handleTabMessage(host: TabSyncHost, message: TabMessage): Promise<void> {
  switch (message.type) {
    case 'tokens': {
      const action = onTokensMessage(message, host.held, host.hasStorage)
      if (action.kind === 'adopt') host.adopt(action.tokens)
      else if (action.kind === 'load') await host.load()
      // Another tab's login or refresh succeeded: the server answers again (SPEC §6:
      // `recovered` when a refresh succeeds in any tab), even if its session is not ours.
      host.recovered()
      return
    }
    case 'logout':
    case 'session-expired':
      switch (onEndedMessage(message, host.held, host.hasStorage)) {
        case 'forget':
          await host.forget()
          break
        case 'if-storage-empty':
          if ((await host.load()) !== null) return
          host.endHere()
          break
        case 'own-session':
          host.endHere()
          if (message.session !== undefined) await host.removeStored(message.session)
          break
      }
      host.ended(message)
      return
    case 'recovered':
      host.recovered()
  }
}
