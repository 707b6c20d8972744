/** Unsigned JWT-shaped tokens for the fake server: the client never verifies signatures. */

function base64URL(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url')
}

/** Builds `header.payload.signature` with the given claims. */
export function makeToken(claims: Record<string, unknown>, typ = 'at+jwt'): string {
  const header = base64URL(JSON.stringify({ alg: 'EdDSA', typ }))
  return `${header}.${base64URL(JSON.stringify(claims))}.fake-signature`
}

/** Reads the claims back (tests only). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1]
  if (payload === undefined) throw new Error('not a JWT')
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
}
