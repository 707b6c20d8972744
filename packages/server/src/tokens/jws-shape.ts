/**
 * Strict shape checks for a compact JWS, run before any cryptography: exactly three segments,
 * each in canonical base64url, and header and payload JSON objects without duplicate members.
 *
 * Why: the JWS decoder underneath (`atob`, "forgiving base64") accepts padding, embedded
 * whitespace and non-zero trailing bits, so one signed token has many spellings that all verify;
 * and `JSON.parse` silently keeps the last of duplicate members, so a header or claims set can
 * mean one thing to baton and another to a verifier that keeps the first (RFC 7515 §4, RFC 8725
 * §3.11). Both are refused here, as "not a token".
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** True when `segment` is base64url exactly as baton would write it (RFC 7515 §2, no padding). */
export function isCanonicalBase64url(segment: string): boolean {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) return false
  const rest = segment.length % 4
  if (rest === 1) return false
  if (rest === 0) return true
  // The last character carries 4 (2 left over) or 2 (3 left over) bits no byte uses; the one
  // canonical spelling leaves them zero, any other value spells the same bytes differently.
  // (Same answer as decoding and re-encoding, without either: test/tokens/jws-shape.test.ts.)
  const last = ALPHABET.indexOf(segment[segment.length - 1]!)
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0
}

/** A compact JWS split and its two JSON segments parsed, or why its shape is refused. */
export type ParsedJWS = { problem: null; header: Record<string, unknown>; payload: Record<string, unknown> } | { problem: string }

/**
 * Checks a compact JWS's shape and answers its header and payload as parsed for the check, so
 * the verifier does not decode them again. Nothing here is trusted before the signature is.
 */
export function parseCompactJWS(token: string): ParsedJWS {
  const parts = token.split('.')
  if (parts.length !== 3) return { problem: 'not three segments' }
  const [header, payload, signature] = parts as [string, string, string]
  if (header === '' || payload === '' || signature === '') return { problem: 'empty segment' }
  if (!isCanonicalBase64url(header) || !isCanonicalBase64url(payload) || !isCanonicalBase64url(signature))
    return { problem: 'not canonical base64url' }
  const objects: Record<string, unknown>[] = []
  for (const segment of [header, payload]) {
    const text = Buffer.from(segment, 'base64url').toString('utf8')
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return { problem: 'not JSON' }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problem: 'not a JSON object' }
    if (hasDuplicateKeys(text)) return { problem: 'duplicate member' }
    objects.push(value as Record<string, unknown>)
  }
  return { problem: null, header: objects[0]!, payload: objects[1]! }
}

/** Why a compact JWS is refused before verification, or `null` when its shape is acceptable. */
export function jwsShapeProblem(token: string): string | null {
  return parseCompactJWS(token).problem
}

/**
 * True when any object in `json` (text that `JSON.parse` accepts) names a member twice,
 * comparing names after unescaping (`"alg"` and `"\u0061lg"` are the same member).
 */
export function hasDuplicateKeys(json: string): boolean {
  // A stack with one entry per open container: the member names seen so far for an object,
  // `null` for an array.
  const stack: (Set<string> | null)[] = []
  let i = 0
  while (i < json.length) {
    const c = json[i]!
    if (c === '{') {
      stack.push(new Set())
      i++
    } else if (c === '[') {
      stack.push(null)
      i++
    } else if (c === '}' || c === ']') {
      stack.pop()
      i++
    } else if (c === '"') {
      const end = stringEnd(json, i)
      const top = stack[stack.length - 1]
      // A string directly inside an object and followed by ':' is a member name.
      if (top !== undefined && top !== null && nextNonSpace(json, end) === ':') {
        const name = JSON.parse(json.slice(i, end)) as string
        if (top.has(name)) return true
        top.add(name)
      }
      i = end
    } else {
      i++
    }
  }
  return false
}

/** Index just past the string literal that starts at `start` (an opening quote). */
function stringEnd(json: string, start: number): number {
  let i = start + 1
  while (i < json.length) {
    const c = json[i]
    if (c === '\\') i += 2
    else if (c === '"') return i + 1
    else i++
  }
  return i
}

function nextNonSpace(json: string, from: number): string | undefined {
  let i = from
  while (i < json.length && (json[i] === ' ' || json[i] === '\t' || json[i] === '\n' || json[i] === '\r')) i++
  return json[i]
}
