import type { FastifySchemaValidationError } from 'fastify'
import { BatonError } from '../errors.js'
import { normalizeUsername, validatePassword, validateUsername } from '../users/password.js'

/**
 * The route schemas' validator (Fastify's `validatorCompiler`) and their error formatter
 * (`schemaErrorFormatter`). The schemas are plain JSON Schema, so the same objects give the
 * OpenAPI document; this compiler checks them the way DRF reports problems: every problem per
 * field, unknown fields refused, values never echoed back. It implements only the keywords the
 * routes use and refuses any other at start-up, so a schema cannot promise a check nobody makes.
 */

/** A field of a body or query: what {@link compileSchema} knows how to check. */
export interface FieldSchema {
  type: 'string' | 'boolean' | 'integer'
  description?: string
  /** 1 only: a required string may not be blank (`''`). */
  minLength?: 1
  /** In characters (code points, as Python's `len` and DRF count). */
  maxLength?: number
  minimum?: number
  maximum?: number
  default?: number
  /**
   * A second round, run only once every field passed the first (register's rules: a username
   * in Django's form, a password baton can hash). An annotation in JSON Schema, asserted here.
   */
  format?: 'username' | 'password'
}

export interface ObjectSchema {
  type: 'object'
  description?: string
  properties: Record<string, FieldSchema>
  required?: readonly string[]
  /** `false`: unknown fields are refused, DRF-style. Absent: they are ignored (query strings). */
  additionalProperties?: false
}

const OBJECT_KEYS = new Set(['type', 'description', 'properties', 'required', 'additionalProperties'])
const FIELD_KEYS = new Set(['type', 'description', 'minLength', 'maxLength', 'minimum', 'maximum', 'default', 'format'])

/** Unknown field names echoed back in `messages`; anything else is reported as `non_field_errors`. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** The message of each check, DRF's wording (never quoting the value). */
export const MESSAGES = {
  notObject: 'Request body must be a JSON object.',
  required: 'This field is required.',
  blank: 'This field may not be blank.',
  notString: 'Not a valid string.',
  notBoolean: 'Must be a valid boolean.',
  notInteger: 'A valid integer is required.',
  unknown: 'Unknown field.',
  maxLength: (max: number) => `Ensure this field has no more than ${max} characters.`,
  minimum: (min: number) => `Ensure this value is greater than or equal to ${min}.`,
  maximum: (max: number) => `Ensure this value is less than or equal to ${max}.`,
} as const

/** The request part a schema checked (Fastify's `SchemaErrorDataVar`). */
type SchemaErrorDataVar = 'body' | 'headers' | 'params' | 'querystring'

type Result = { value: unknown } | { error: FastifySchemaValidationError[] }

/** Fastify's `validatorCompiler`: one checking function per route part's schema. */
export function compileSchema({ schema, httpPart }: { schema: unknown; httpPart?: string }): (data: unknown) => Result {
  const checked = assertObjectSchema(schema, httpPart ?? 'schema')
  // A query string's values are strings: its integers are parsed, as DRF's IntegerField does.
  const fromQuery = httpPart === 'querystring'
  return (data) => validate(checked, data, fromQuery)
}

function validate(schema: ObjectSchema, data: unknown, fromQuery: boolean): Result {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { error: [issue('', 'type', MESSAGES.notObject)] }
  const input = data as Record<string, unknown>
  const errors: FastifySchemaValidationError[] = []
  const out: Record<string, unknown> = {}
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(input)) {
      // A field name is echoed only when it looks like one: a token or password sent as a name
      // (a client bug, or a probe) never comes back in an error body.
      if (!Object.hasOwn(schema.properties, key))
        errors.push(issue(FIELD_NAME.test(key) ? key : 'non_field_errors', 'additionalProperties', MESSAGES.unknown))
    }
  } else Object.assign(out, input)
  const required = new Set(schema.required ?? [])
  for (const [key, field] of Object.entries(schema.properties)) {
    const value = Object.hasOwn(input, key) ? input[key] : undefined
    if (value === undefined || value === null) {
      if (required.has(key)) errors.push(issue(key, 'required', MESSAGES.required))
      else if (field.default !== undefined) out[key] = field.default
      continue
    }
    const outcome = fieldOutcome(field, value, fromQuery)
    if ('value' in outcome) out[key] = outcome.value
    else errors.push(issue(key, outcome.keyword, outcome.message))
  }
  if (errors.length === 0) errors.push(...checkFormats(schema, out))
  return errors.length > 0 ? { error: errors } : { value: out }
}

type FieldOutcome = { value: unknown } | { keyword: string; message: string }

function fieldOutcome(field: FieldSchema, value: unknown, fromQuery: boolean): FieldOutcome {
  switch (field.type) {
    case 'boolean':
      return typeof value === 'boolean' ? { value } : { keyword: 'type', message: MESSAGES.notBoolean }
    case 'integer': {
      const n =
        typeof value === 'number' && !fromQuery
          ? value
          : typeof value === 'string' && /^-?[0-9]{1,15}$/.test(value)
            ? Number(value)
            : Number.NaN
      if (!Number.isSafeInteger(n)) return { keyword: 'type', message: MESSAGES.notInteger }
      if (field.minimum !== undefined && n < field.minimum) return { keyword: 'minimum', message: MESSAGES.minimum(field.minimum) }
      if (field.maximum !== undefined && n > field.maximum) return { keyword: 'maximum', message: MESSAGES.maximum(field.maximum) }
      return { value: n }
    }
    case 'string':
      if (typeof value !== 'string') return { keyword: 'type', message: MESSAGES.notString }
      if (value === '' && field.minLength === 1) return { keyword: 'minLength', message: MESSAGES.blank }
      if (field.maxLength !== undefined && tooLong(value, field.maxLength))
        return { keyword: 'maxLength', message: MESSAGES.maxLength(field.maxLength) }
      return { value }
  }
}

/** The second round: every format-checked field's problem at once, DRF-style. */
function checkFormats(schema: ObjectSchema, values: Record<string, unknown>): FastifySchemaValidationError[] {
  const errors: FastifySchemaValidationError[] = []
  for (const [key, field] of Object.entries(schema.properties)) {
    const value = values[key]
    if (field.format === undefined || typeof value !== 'string') continue
    // A username is judged in the form it is stored in (NFKC), as register stores it.
    const problem = field.format === 'username' ? validateUsername(normalizeUsername(value)) : validatePassword(value)
    if (problem !== null) errors.push(issue(key, 'format', problem))
  }
  return errors
}

/** An Ajv-shaped error whose `instancePath` names the `messages` key (`''`: the whole part). */
function issue(field: string, keyword: string, message: string): FastifySchemaValidationError {
  return { keyword, instancePath: field === '' ? '' : `/${field}`, schemaPath: `#/${keyword}`, params: {}, message }
}

/** More than `max` code points. Counted only when UTF-16 length alone cannot tell. */
function tooLong(value: string, max: number): boolean {
  if (value.length <= max) return false
  if (value.length > max * 2) return true
  let n = 0
  for (const _ of value) if (++n > max) return true
  return false
}

/**
 * Fastify's `schemaErrorFormatter`: a part that failed its schema is the 400 of SPEC §1 with a
 * message per field. A path parameter outside its schema names nothing of yours: 404, as a
 * missing session is.
 */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  if (dataVar === 'params') return new BatonError('not_found')
  if (errors.some((e) => e.instancePath === '')) return new BatonError('bad_request', { detail: MESSAGES.notObject })
  const messages: Record<string, string> = {}
  for (const e of errors) {
    const key = e.instancePath.slice(1)
    if (!Object.hasOwn(messages, key)) messages[key] = e.message ?? MESSAGES.required
  }
  const detail = dataVar === 'querystring' ? 'Invalid query parameters.' : 'Invalid request body.'
  return new BatonError('bad_request', { detail, messages })
}

function assertObjectSchema(schema: unknown, where: string): ObjectSchema {
  const s = schema as Partial<ObjectSchema> & Record<string, unknown>
  if (typeof s !== 'object' || s === null || s.type !== 'object' || typeof s.properties !== 'object')
    throw new TypeError(`${where}: route schemas are objects with properties`)
  for (const key of Object.keys(s))
    if (!OBJECT_KEYS.has(key)) throw new TypeError(`${where}: keyword ${key} is not checked by http/validator.ts`)
  for (const [name, field] of Object.entries(s.properties)) {
    for (const key of Object.keys(field))
      if (!FIELD_KEYS.has(key)) throw new TypeError(`${where}.${name}: keyword ${key} is not checked by http/validator.ts`)
    if (!['string', 'boolean', 'integer'].includes(field.type))
      throw new TypeError(`${where}.${name}: type ${String(field.type)} is not checked`)
    if (field.minLength !== undefined && field.minLength !== 1)
      throw new TypeError(`${where}.${name}: only minLength 1 (not blank) is checked`)
  }
  return s as ObjectSchema
}
