/**
 * Reads the timing claims of a JWT without verifying it: the server verifies every token it
 * receives, the client only needs to know when to refresh.
 */

/** The claims the client uses; absent or non-numeric claims are `undefined`. */
export interface TokenClaims {
  /** Expiry, seconds since the epoch (server clock). */
  exp: number | undefined
  /** Issued at, seconds since the epoch (server clock). */
  iat: number | undefined
  /** Token id; identifies a refresh token without revealing it. */
  jti: string | undefined
  /** Session id (baton's `sid`): the same across every rotation of one session. */
  sid: string | undefined
}

/**
 * Decodes the payload of a compact JWS. Returns `null` for anything that is not one, so a
 * server whose tokens are opaque still works (the client then relies on 401s alone).
 */
export function readClaims(token: string): TokenClaims | null {
  const parts = token.split('.')
  if (parts.length !== 3 || parts[1] === undefined) return null
  let payload: unknown
  try {
    payload = JSON.parse(decodeBase64URL(parts[1]))
  } catch {
    return null
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null
  const { exp, iat, jti, sid } = payload as Record<string, unknown>
  return {
    exp: finiteNumber(exp),
    iat: finiteNumber(iat),
    jti: typeof jti === 'string' ? jti : undefined,
    sid: typeof sid === 'string' ? sid : undefined,
  }
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function decodeBase64URL(segment: string): string {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
  return new TextDecoder().decode(bytes)
}
