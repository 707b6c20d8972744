import type { CheckFinding, CheckStatus, FindingId, Flavour } from './types.js'

/**
 * What each finding means for users and how to fix it, in one place so the wording can be
 * reviewed side by side. Fixes name simplejwt's settings where the target looks like simplejwt
 * (measured with Debian's simplejwt 5.2.2, SPEC §9), baton's variables where it looks like
 * baton (SPEC §5), and the general rule otherwise. Where no setting helps, the text says so.
 */
interface Fixes {
  baton: string
  simplejwt: string
  generic: string
}

function pick(flavour: Flavour, fixes: Fixes): string {
  return flavour === 'unknown' ? fixes.generic : fixes[flavour]
}

/** A finding; `fix` is chosen for the flavour and is '' for `ok`. */
export function finding(
  id: FindingId,
  status: CheckStatus,
  title: string,
  meaning: string,
  flavour: Flavour,
  fixes?: Fixes | string,
): CheckFinding {
  const fix = status === 'ok' || fixes === undefined ? '' : typeof fixes === 'string' ? fixes : pick(flavour, fixes)
  return { id, status, title, meaning, fix }
}

const NO_GRACE_SIMPLEJWT =
  'simplejwt has no grace window (an upstream limitation): with BLACKLIST_AFTER_ROTATION = True an old refresh token is refused at once, even a second later. ' +
  'BLACKLIST_AFTER_ROTATION = False would stop the logouts but keep every old refresh token valid, which is worse. ' +
  'Keep it True, make the client serialise refreshes (one at a time, shared across tabs), or move the refresh endpoint to baton, which answers the same successor within REFRESH_GRACE_SECONDS (SPEC §3.2).'

export const TEXT = {
  loginRejected: {
    meaning: 'Every other check needs a session, so only the checks that need no login were run.',
    fix: 'Check --username and the password, and that LOGIN (the first of --paths) is the login endpoint.',
  },
  serverError: {
    meaning:
      'An expected failure answered with a 5xx (or no answer): clients cannot tell a bad request from an outage, and usually log the user out.',
    fixes: {
      baton: 'This is a baton bug: the log line with the request_id has the stack; please report it.',
      simplejwt: "Read the server's log for the traceback; an unhandled exception in a view is a 500 in Django.",
      generic: 'Expected failures should be 4xx with a code; only an outage should be a 503 with Retry-After.',
    },
  },
  notRotated: {
    meaning: 'A stolen refresh token keeps working until it expires, and reuse of one can never be detected.',
    fixes: {
      baton: 'Set ROTATE_REFRESH_TOKENS=true (the default).',
      simplejwt:
        "Set ROTATE_REFRESH_TOKENS = True and BLACKLIST_AFTER_ROTATION = True, with 'rest_framework_simplejwt.token_blacklist' in INSTALLED_APPS (then migrate).",
      generic: 'Rotate refresh tokens: every refresh answers a new one and retires the one presented (RFC 9700 §4.14.2).',
    },
  },
  notSuperseded: {
    meaning:
      'Rotation protects nothing: every refresh token ever issued stays valid until it expires, so a stolen one works alongside the user.',
    fixes: {
      baton: 'This should not happen with baton (a superseded token is reuse after REFRESH_GRACE_SECONDS): report it, with the version.',
      simplejwt:
        "Set BLACKLIST_AFTER_ROTATION = True and add 'rest_framework_simplejwt.token_blacklist' to INSTALLED_APPS (then migrate). If the service has a grace window longer than --grace-seconds, run again with a longer one.",
      generic:
        'Retire the presented refresh token when rotating. If the service has a grace window longer than --grace-seconds, run again with a longer one.',
    },
  },
  loggedOutOnRetry: {
    meaning:
      'A client that lost the refresh answer (a dropped connection, a mobile network, a closed tab) presents the same token again, gets 401 and must log the user out. Two tabs refreshing at once hit the same wall.',
    fixes: {
      baton: 'Set REFRESH_GRACE_SECONDS above 0 (the default is 15).',
      simplejwt: NO_GRACE_SIMPLEJWT,
      generic: 'Within a short grace window, answer a retried refresh token with the same successor it already produced (SPEC §3.2).',
    },
  },
  fork: {
    meaning:
      'The retry works, but one refresh token now has two live successors: the session has forked, and revoking one branch leaves the other.',
    fixes: {
      baton: 'This should not happen with baton (a retry within grace answers the same successor): report it, with the version.',
      simplejwt: 'Set BLACKLIST_AFTER_ROTATION = True so a presented refresh token cannot be spent twice.',
      generic: 'Within the grace window, answer the successor already issued instead of minting another.',
    },
  },
  doubleSpend: {
    meaning:
      'One refresh token became several independent sessions. A stolen token spent at the same moment as the user\u2019s gives the attacker a session of their own, and logging out one does not end the other.',
    fixes: {
      baton: 'This should not happen with baton (rotation is one atomic store operation, SPEC §3.2): report it, with the store in use.',
      simplejwt:
        'An upstream limitation: simplejwt checks the blacklist and writes to it in separate queries without a lock, so refreshes that arrive together all pass. No setting fixes it; serialise refreshes in the client, or move the refresh endpoint to baton (one atomic operation per refresh).',
      generic: 'Make "is this token current, then retire it" one atomic operation (a row lock, a compare-and-set, a Redis script).',
    },
  },
  concurrentLoggedOut: {
    meaning:
      'No double spend, but when two tabs (or a retry and the original) refresh at the same moment, all but one get 401 and log the user out, unless the client serialises refreshes across tabs.',
    fixes: {
      baton: 'Set REFRESH_GRACE_SECONDS above 0 (the default is 15).',
      simplejwt: NO_GRACE_SIMPLEJWT,
      generic: 'Answer concurrent presentations of the same refresh token with the same successor (a grace window, SPEC §3.2).',
    },
  },
  notRevoked: {
    meaning:
      'If an attacker steals a refresh token and uses it first, the user\u2019s later replay is refused but nothing ends the attacker\u2019s session: reuse is not detected.',
    fixes: {
      baton: 'This should not happen with baton (reuse revokes the session, SPEC §3.2): report it, with the version.',
      simplejwt:
        'An upstream limitation: simplejwt blacklists single tokens and has no token families, so no setting turns on reuse detection; a replay is only refused. baton revokes the whole session on reuse (SPEC §3.2).',
      generic: 'When a retired refresh token comes back, revoke every token of its session (RFC 9700 §4.14.2).',
    },
  },
  replayAccepted: {
    meaning: 'An old refresh token still works well after it was rotated: a stolen one can be used long after the user moved on.',
    fixes: {
      baton: 'Lower REFRESH_GRACE_SECONDS, or run again with --grace-seconds above it.',
      simplejwt: "Set BLACKLIST_AFTER_ROTATION = True with 'rest_framework_simplejwt.token_blacklist' in INSTALLED_APPS (then migrate).",
      generic: 'Retire rotated refresh tokens; if the service has a grace window longer than --grace-seconds, run again with a longer one.',
    },
  },
  logoutIneffective: {
    meaning: 'Logging out leaves the refresh token working: whoever holds a copy stays logged in.',
    fixes: {
      baton: 'This should not happen with baton (logout revokes the session): report it, with the store in use.',
      simplejwt:
        "Add 'rest_framework_simplejwt.token_blacklist' to INSTALLED_APPS (then migrate): without it the blacklist view does nothing.",
      generic: 'Make logout revoke the refresh token (and its session).',
    },
  },
  badInput: {
    meaning: 'Clients and proxies see a clear 4xx for a bad request, never a 5xx that looks like an outage.',
  },
  hugeBodyRead: {
    meaning: 'The service read and parsed a 3 MB body before refusing it: cheap requests can keep its workers busy.',
    fixes: {
      baton: 'Lower BATON_BODY_LIMIT (the default is 16384 bytes).',
      simplejwt:
        "DRF's parsers read the body themselves, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not limit JSON. Limit bodies at the proxy (nginx: client_max_body_size 16k for the token paths).",
      generic: 'Refuse bodies over a few kilobytes with 413 before parsing them (or at the proxy).',
    },
  },
  errorShape: {
    meaning:
      'Clients written for simplejwt read `detail` and switch on `code` (token_not_valid, …): an answer without them cannot be told apart.',
    fixes: {
      baton: 'This should not happen with baton (every error is {detail, code}): report it.',
      simplejwt:
        "simplejwt gives {detail, code} only for token errors; DRF's own errors (parse errors, unsupported media type, validation) carry no code. A custom EXCEPTION_HANDLER in REST_FRAMEWORK can add one (e.g. exc.default_code).",
      generic: 'Answer every error as JSON {detail, code} (SPEC §1).',
    },
  },
  noStore: {
    meaning:
      'An answer carrying tokens without Cache-Control: no-store may be kept by a browser or proxy cache (RFC 6749 §5.1 requires no-store); POST answers are rarely cached, so the risk is small but real behind some proxies.',
    fixes: {
      baton: 'This should not happen with baton: report it, and check that no proxy strips the header.',
      simplejwt:
        'simplejwt does not set it. Wrap the token views with django.views.decorators.cache.never_cache in urls.py, or add the header at the proxy for the token paths.',
      generic: 'Send Cache-Control: no-store on every answer that carries a token.',
    },
  },
  wwwAuthenticate: {
    meaning:
      'RFC 6750 §3.1: a 401 to a request with a bearer token names the problem in WWW-Authenticate (error="invalid_token"), so generic OAuth clients know to refresh rather than re-prompt.',
    fixes: {
      baton: 'This should not happen with baton: report it, and check that no proxy strips the header.',
      simplejwt:
        'simplejwt (through DRF) answers WWW-Authenticate: Bearer realm="api" without error=; a JWTAuthentication subclass whose authenticate_header adds error="invalid_token" fixes it. Clients that read the JSON code are not affected.',
      generic: 'Answer 401 with WWW-Authenticate: Bearer error="invalid_token" when a bearer token was presented.',
    },
  },
  protectedUnknown: {
    meaning: 'WWW-Authenticate on a protected resource could not be checked.',
    fix: 'Pass --protected PATH (relative to URL) naming a resource that needs a bearer token, or --protected none to skip it.',
  },
  longAccess: {
    meaning: 'Access tokens are not revocable (stateless): a stolen or logged-out one keeps working for its whole life.',
    fixes: {
      baton: 'Set ACCESS_TOKEN_LIFETIME to 900 or less (the default is 300).',
      simplejwt: 'Set ACCESS_TOKEN_LIFETIME = timedelta(minutes=5) (at most 15).',
      generic: 'Keep access tokens to 15 minutes or less (5 is common).',
    },
  },
  unboundedRefresh: {
    meaning: 'A session that keeps refreshing never ends: a stolen refresh token that is used regularly works forever.',
    fixes: {
      baton: 'Set SESSION_MAX_LIFETIME (the default is 30 days).',
      simplejwt:
        'An upstream limitation: with ROTATE_REFRESH_TOKENS every rotated refresh token gets a fresh REFRESH_TOKEN_LIFETIME and there is no absolute-lifetime setting. Keep REFRESH_TOKEN_LIFETIME short, or move the refresh endpoint to baton (SESSION_MAX_LIFETIME caps a session from login, SPEC §3.4).',
      generic: 'Cap a session\u2019s life from login (carry auth_time through rotation, SPEC §3.4) as well as its inactivity.',
    },
  },
} as const
