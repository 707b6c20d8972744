import { BatonError } from '../errors.js'

export interface FieldRule {
  /** Longest accepted string, in characters (code points, as Python's `len` and DRF count). */
  max: number
  optional?: boolean
}

/** Unknown field names echoed back in `messages`; anything else is reported as `non_field_errors`. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/**
 * Checks a JSON body against string fields, DRF-style: every problem is reported per field
 * (`messages`), unknown fields are refused, and values are never echoed back.
 */
export function readFields<K extends string>(body: unknown, rules: Record<K, FieldRule>): Record<K, string> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new BatonError('bad_request', { detail: 'Request body must be a JSON object.' })
  const messages: Record<string, string> = {}
  const out = {} as Record<K, string>
  const input = body as Record<string, unknown>
  for (const key of Object.keys(input)) {
    // A field name is echoed only when it looks like one: a token or password sent as a name
    // (a client bug, or a probe) never comes back in an error body.
    if (!Object.hasOwn(rules, key)) messages[FIELD_NAME.test(key) ? key : 'non_field_errors'] = 'Unknown field.'
  }
  for (const [key, rule] of Object.entries(rules) as [K, FieldRule][]) {
    const value = input[key]
    if (value === undefined || value === null || value === '') {
      if (rule.optional !== true) messages[key] = value === '' ? 'This field may not be blank.' : 'This field is required.'
      continue
    }
    if (typeof value !== 'string') messages[key] = 'Not a valid string.'
    else if (tooLong(value, rule.max)) messages[key] = `Ensure this field has no more than ${rule.max} characters.`
    else out[key] = value
  }
  if (Object.keys(messages).length > 0) throw new BatonError('bad_request', { detail: 'Invalid request body.', messages })
  return out
}

/** More than `max` code points. Counted only when UTF-16 length alone cannot tell. */
function tooLong(value: string, max: number): boolean {
  if (value.length <= max) return false
  if (value.length > max * 2) return true
  let n = 0
  for (const _ of value) if (++n > max) return true
  return false
}
