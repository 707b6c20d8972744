/**
 * http/validator.ts on its own: the route schemas' checks, DRF's messages, and the refusal of
 * any keyword it does not check (a schema cannot promise what nobody enforces). The routes'
 * answers are tested through HTTP in body.test.ts, auth-routes.test.ts and session-list.test.ts.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BatonError } from '../../src/errors.js'
import { REGISTER_BODY } from '../../src/http/schemas.js'
import { type ObjectSchema, compileSchema, formatSchemaErrors } from '../../src/http/validator.js'

const BODY: ObjectSchema = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 3 }, flag: { type: 'boolean' } },
  required: ['name', 'flag'],
  additionalProperties: false,
}

function messages(schema: ObjectSchema, data: unknown, httpPart = 'body'): Record<string, string> | string {
  const out = compileSchema({ schema, httpPart })(data)
  if ('value' in out) return 'valid'
  const err = formatSchemaErrors(out.error, httpPart as 'body')
  assert.ok(err instanceof BatonError)
  return err.messages ?? err.message
}

test('validator: every field problem at once, unknown names echoed only when they look like names', () => {
  assert.equal(messages(BODY, { name: 'abc', flag: true }), 'valid')
  assert.deepEqual(messages(BODY, {}), { name: 'This field is required.', flag: 'This field is required.' })
  assert.deepEqual(messages(BODY, { name: null, flag: 1 }), { name: 'This field is required.', flag: 'Must be a valid boolean.' })
  assert.deepEqual(messages(BODY, { name: '', flag: false }), { name: 'This field may not be blank.' })
  assert.deepEqual(messages(BODY, { name: 7, flag: false }), { name: 'Not a valid string.' })
  assert.deepEqual(messages(BODY, { name: 'abcd', flag: false }), { name: 'Ensure this field has no more than 3 characters.' })
  // Code points, as Python's len: three keys of two UTF-16 units each are three characters.
  assert.equal(messages(BODY, { name: '🔑🔑🔑', flag: false }), 'valid')
  assert.deepEqual(messages(BODY, { name: 'abc', flag: true, extra: 1, 'eyJ.secret': 2 }), {
    extra: 'Unknown field.',
    non_field_errors: 'Unknown field.',
  })
  for (const data of [null, [], 'x', 3]) assert.equal(messages(BODY, data), 'Request body must be a JSON object.')
})

test("validator: register's format round runs only once the fields are there, and reports every field", () => {
  assert.deepEqual(messages(REGISTER_BODY, { username: 'has space', password: '' }), { password: 'This field may not be blank.' })
  assert.deepEqual(messages(REGISTER_BODY, { username: 'has space', password: 'p'.repeat(1025) }), {
    username: 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
    password: 'Ensure this field has no more than 1024 characters.',
  })
  // Judged in NFKC form, as it is stored: a full-width name is the plain one.
  assert.equal(messages(REGISTER_BODY, { username: 'ａｄａ', password: 'fine-password' }), 'valid')
})

test('validator: query integers are parsed from their text, with a default; a path parameter out of its schema is 404', () => {
  const query: ObjectSchema = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 5, default: 2 } } }
  const check = compileSchema({ schema: query, httpPart: 'querystring' })
  assert.deepEqual(check({}), { value: { limit: 2 } })
  assert.deepEqual(check({ limit: '5', other: 'kept' }), { value: { limit: 5, other: 'kept' } })
  assert.deepEqual(messages(query, { limit: '6' }, 'querystring'), { limit: 'Ensure this value is less than or equal to 5.' })
  assert.deepEqual(messages(query, { limit: '0x2' }, 'querystring'), { limit: 'A valid integer is required.' })
  const params: ObjectSchema = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 4 } }, required: ['id'] }
  const out = compileSchema({ schema: params, httpPart: 'params' })({ id: 'abcde' })
  assert.ok('error' in out)
  assert.equal((formatSchemaErrors(out.error, 'params') as BatonError).code, 'not_found')
})

test('validator: a keyword it does not check is refused when the route is registered', () => {
  for (const schema of [
    { type: 'object', properties: { a: { type: 'string', pattern: '^x' } } },
    { type: 'object', properties: { a: { type: 'number' } } },
    { type: 'object', properties: { a: { type: 'string', minLength: 2 } } },
    { type: 'object', properties: {}, oneOf: [] },
    { type: 'array', items: {} },
  ]) {
    assert.throws(() => compileSchema({ schema, httpPart: 'body' }), TypeError, JSON.stringify(schema))
  }
})
