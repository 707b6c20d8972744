export type { ErrorCode, ErrorBody, TokenPair, AccessOnly, SessionInfo, UserInfo } from "./wire.js"
