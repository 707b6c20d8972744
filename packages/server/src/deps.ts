import type { Logger } from 'pino'
import type { BackgroundTasks } from './background-tasks.js'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import type { Metrics } from './metrics.js'
import type { StoreFaultSwitch } from './store/fault-switch.js'
import type { GuardedStore } from './store/guard.js'
import type { KeySet } from './tokens/keys.js'
import type { TokenCodec } from './tokens/jwt.js'
import type { CredentialChecker, UserStore } from './users/types.js'

/**
 * Everything a route or `sessions.ts` needs, passed in rather than imported, so tests build it
 * with the memory store and a fake clock.
 */
export interface Deps {
  config: Config
  store: GuardedStore
  /** baton's own user store; `null` when the application brings its own credential check. */
  users: UserStore | null
  credentials: CredentialChecker
  /** Hashes a password for registration (cost injectable for tests). */
  hashPassword: (password: string) => Promise<string>
  /** Work a request starts without waiting for it (the re-hash after a login); close() waits. */
  background: BackgroundTasks
  keys: KeySet
  tokens: TokenCodec
  clock: Clock
  log: Logger
  metrics: Metrics
  /** Development mode with the demo page only: the demo's outage switch (dev-routes.ts). */
  storeFault?: StoreFaultSwitch
}
