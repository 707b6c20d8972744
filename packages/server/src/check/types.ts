/**
 * The report of `baton check URL` (SPEC §9): one finding per question asked of a deployed token
 * service with simplejwt's wire format. No field ever holds a password or a token.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail'

/** Stable ids, in the order the report lists them. */
export type FindingId =
  | 'login'
  | 'rotation'
  | 'lost-response-retry'
  | 'double-spend'
  | 'reuse-detection'
  | 'logout'
  | 'malformed-json'
  | 'wrong-content-type'
  | 'huge-body'
  | 'garbage-token'
  | 'error-shape'
  | 'cache-control'
  | 'www-authenticate'
  | 'access-lifetime'
  | 'refresh-lifetime'

export interface CheckFinding {
  id: FindingId
  status: CheckStatus
  /** What was observed, in one line. */
  title: string
  /** What it means for the service's users. */
  meaning: string
  /** What to change (for simplejwt: the setting, or the upstream limitation); '' when nothing. */
  fix: string
}

export interface CheckReport {
  /** The URL checked, any userinfo masked. */
  target: string
  findings: CheckFinding[]
  /** HTTP requests sent, every one counted (SPEC §9: under 100). */
  requests: number
}

/**
 * Whose tokens these look like, from the access token's header and claims; it only picks the
 * wording of fixes (baton's variables, simplejwt's settings), never a finding's status.
 */
export type Flavour = 'baton' | 'simplejwt' | 'unknown'
