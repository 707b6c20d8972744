import { BatonError } from '../errors.js'

export interface FieldRule {
  /** Longest accepted string, in characters. */
  max: number
  optional?: boolean
}

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
    if (!Object.hasOwn(rules, key)) messages[key.slice(0, 64)] = 'Unknown field.'
  }
  for (const [key, rule] of Object.entries(rules) as [K, FieldRule][]) {
    const value = input[key]
    if (value === undefined || value === null || value === '') {
      if (rule.optional !== true) messages[key] = value === '' ? 'This field may not be blank.' : 'This field is required.'
      continue
    }
    if (typeof value !== 'string') messages[key] = 'Not a valid string.'
    else if (value.length > rule.max) messages[key] = `Ensure this field has no more than ${rule.max} characters.`
    else out[key] = value
  }
  if (Object.keys(messages).length > 0) throw new BatonError('bad_request', { detail: 'Invalid request body.', messages })
  return out
}
