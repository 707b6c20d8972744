import type { ErrorCode } from '@baton/client'
import { ERRORS } from '../errors.js'
import { MAX_TOKEN_LENGTH } from '../tokens/jwt.js'
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../users/password.js'
import type { FieldSchema, ObjectSchema } from './validator.js'

/**
 * The JSON Schemas of the routes' bodies and answers: checked by http/validator.ts, serialised
 * by fast-json-stringify, and published at `/openapi.json` (http/openapi.ts). A response
 * schema drops every property it does not list, so each lists every field README.md shows.
 */

/** Shared by reference (`$ref: 'ErrorBody#'`): app.ts adds it once; OpenAPI names it. */
export const ERROR_BODY = {
  $id: 'ErrorBody',
  type: 'object',
  description: "An error (SPEC §1): simplejwt's `{detail, code}`; `messages` holds per-field problems of a 400.",
  properties: {
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERRORS) },
    messages: { type: 'object', additionalProperties: { type: 'string' } },
    request_id: { type: 'string', description: 'A 500 only: the id in the log line with the stack.' },
  },
  required: ['detail', 'code'],
} as const

/** The error answers a route can give, each with the error body. */
export function errorResponses(...codes: ErrorCode[]): Record<string, { $ref: string; description: string }> {
  const out: Record<string, { $ref: string; description: string }> = {}
  for (const code of [...codes, 'internal_error' as const]) {
    const status = String(ERRORS[code].status)
    const names = out[status]?.description.split(', ') ?? []
    out[status] = { $ref: 'ErrorBody#', description: [...names, code].join(', ') }
  }
  return out
}

/** Every route that reads a JSON body can answer these before its own checks run. */
export const BODY_ERRORS: ErrorCode[] = ['bad_request', 'payload_too_large', 'unsupported_media_type']

const text = (maxLength: number, description?: string): FieldSchema => ({
  type: 'string',
  minLength: 1,
  maxLength,
  ...(description === undefined ? {} : { description }),
})

/** A JSON body of required, non-blank string fields; unknown fields are refused. */
export function fieldsBody(properties: Record<string, FieldSchema>, description?: string): ObjectSchema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
    ...(description === undefined ? {} : { description }),
  }
}

export const CREDENTIALS_BODY = fieldsBody({ username: text(MAX_USERNAME_LENGTH), password: text(MAX_PASSWORD_LENGTH) })
export const REFRESH_BODY = fieldsBody({ refresh: text(MAX_TOKEN_LENGTH, 'A refresh token.') })
export const TOKEN_BODY = fieldsBody({ token: text(MAX_TOKEN_LENGTH, 'An access or refresh token.') })
/**
 * Register's rules come in a second round (`format`), once the fields are there: a password's
 * length is one of them, so it is reported together with any username problem.
 */
export const REGISTER_BODY = fieldsBody({
  username: { ...text(MAX_USERNAME_LENGTH), format: 'username', description: "Django's rules: letters, digits and @ . + - _, NFKC." },
  password: { type: 'string', minLength: 1, format: 'password', description: `At most ${MAX_PASSWORD_LENGTH} characters.` },
})

export const TOKEN_PAIR = {
  type: 'object',
  description: 'The tokens. `refresh` is absent with rotation off, and in cookie mode (it is the cookie).',
  properties: { access: { type: 'string' }, refresh: { type: 'string' } },
  required: ['access'],
  additionalProperties: false,
} as const

export const EMPTY_OBJECT = { type: 'object', properties: {}, additionalProperties: false } as const

export const USER = {
  type: 'object',
  properties: { id: { type: 'string' }, username: { type: 'string' } },
  required: ['id', 'username'],
  additionalProperties: false,
} as const

const NULLABLE_STRING = { type: ['string', 'null'] } as const

export const SESSION_INFO = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: { type: 'string', format: 'date-time' },
    user_agent: NULLABLE_STRING,
    ip: NULLABLE_STRING,
    current: { type: 'boolean' },
  },
  required: ['id', 'created_at', 'last_used_at', 'user_agent', 'ip', 'current'],
  additionalProperties: false,
} as const
