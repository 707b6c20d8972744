/**
 * `@baton/client`: keeps a browser or Node session alive across token expiry, store outages
 * and many tabs. The axios adapter is the `@baton/client/axios` subpath.
 */
export { createAuthClient, type AuthClient } from './client.js'
export {
  resolveOptions,
  DEFAULT_LOGIN_PATH,
  DEFAULT_REFRESH_PATH,
  DEFAULT_LOGOUT_PATH,
  DEFAULT_TIMEOUT_MS,
  type AuthClientOptions,
  type AuthPaths,
  type ResolvedClientOptions,
  type StorageOption,
  type Timers,
} from './options.js'
export {
  BatonClientError,
  HTTPError,
  NetworkError,
  SessionExpiredError,
  RefreshUnavailableError,
  isBatonClientError,
  isHTTPError,
  isNetworkError,
  isSessionExpiredError,
  isRefreshUnavailableError,
  type BatonClientErrorCode,
  type ClientErrorCode,
  type HTTPErrorInit,
} from './errors.js'
export type { AuthEventMap, AuthEventName, AuthEventListener, TokensEvent, DegradedEvent, SessionExpiredEvent } from './events.js'
export { createMemoryStorage, createWebStorage, type TokenStorage, type StoredTokens } from './token-storage.js'
export { createInProcessLock, createWebLock, type Lock } from './tab-lock.js'
export {
  createBroadcastChannel,
  createStorageEventChannel,
  createNoopChannel,
  type TabChannel,
  type TabMessage,
  type StorageEventSource,
  type StorageEventLike,
  type StorageLike,
} from './tab-channel.js'
export { backoffDelay, parseRetryAfter, MAX_BACKOFF_MS } from './backoff.js'
export { readClaims, type TokenClaims } from './jwt-exp.js'
export { CSRF_HEADER } from './wire.js'
export type { ErrorCode, ErrorBody, TokenPair, AccessOnly, SessionInfo, UserInfo, LoginRequest, RefreshRequest } from './wire.js'
