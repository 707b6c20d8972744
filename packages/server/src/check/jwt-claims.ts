/**
 * Reads a JWT's header and claims without verifying it: `baton check` holds no key, and only
 * looks at what a client could see (`exp`, `iat`, `jti`, `typ`). The service verifies.
 */
export interface DecodedJWT {
  header: Record<string, unknown>
  claims: Record<string, unknown>
}

export function decodeJWT(token: string): DecodedJWT | null {
  const parts = token.split('.')
  if (parts.length !== 3) return null
  const header = parseSegment(parts[0]!)
  const claims = parseSegment(parts[1]!)
  return header === null || claims === null ? null : { header, claims }
}

function parseSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** A numeric claim, or null. */
export function numberClaim(token: DecodedJWT | null, name: string): number | null {
  const v = token?.claims[name]
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/**
 * What identifies a refresh token for "is this the same successor?": its `jti` (SPEC §3.2:
 * the grace answer is a token with the successor's jti, not necessarily the same string).
 */
export function tokenIdentity(token: string): string {
  const jti = decodeJWT(token)?.claims.jti
  return typeof jti === 'string' && jti !== '' ? `jti:${jti}` : `raw:${token}`
}

/** Seconds, as a person reads them: `300 s (5 min)`, `86400 s (1 day)`. */
export function describeSeconds(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'h'],
    [60, 'min'],
  ]
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size
      return `${seconds} s (${n} ${unit}${unit === 'day' && n !== 1 ? 's' : ''})`
    }
  }
  return `${seconds} s`
}
