import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import type { ErrorCode } from '@baton/client'
import { ERRORS } from '../src/errors.js'

/** The contract sits beside the repository: /work/shared/SPEC.md next to /work/main. */
const SPEC = fileURLToPath(new URL('../../../../shared/SPEC.md', import.meta.url))

/** Codes baton answers that SPEC §1 leaves unnamed (documented in src/errors.ts). */
const ADDITIONS: Record<string, number> = { csrf_failed: 403, request_header_fields_too_large: 431 }

/** Every ErrorCode of the client's wire types, as a value: the compiler checks it is exhaustive. */
const CLIENT_CODES = {
  bad_request: true,
  token_not_valid: true,
  token_revoked: true,
  token_reused: true,
  invalid_credentials: true,
  not_found: true,
  username_taken: true,
  payload_too_large: true,
  unsupported_media_type: true,
  rate_limited: true,
  store_unavailable: true,
  internal_error: true,
  request_header_fields_too_large: true,
  csrf_failed: true,
} as const satisfies Record<ErrorCode, true>

// Type level, both ways: ERRORS has every ErrorCode and nothing else.
type Missing = Exclude<ErrorCode, keyof typeof ERRORS>
type Extra = Exclude<keyof typeof ERRORS, ErrorCode>
const sameCodes: [Missing, Extra] extends [never, never] ? true : false = true

/** `| 400 | \`bad_request\` | ... |` rows of the table under "### Errors" in SPEC §1. */
function specErrors(): Map<string, number> {
  const text = readFileSync(SPEC, 'utf8')
  const start = text.indexOf('### Errors')
  assert.ok(start >= 0, 'SPEC.md has no "### Errors" section')
  const section = text.slice(start, text.indexOf('\n## ', start))
  const out = new Map<string, number>()
  for (const m of section.matchAll(/^\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|/gm)) out.set(m[2]!, Number(m[1]))
  return out
}

test('errors: SPEC.md is where the catalogue test expects it', () => {
  assert.ok(existsSync(SPEC), `${SPEC} is missing: the catalogue cannot be checked against the contract`)
})

test('errors: every code of the SPEC §1 table is in ERRORS with the same status', () => {
  const spec = specErrors()
  assert.ok(spec.size >= 12, `only ${spec.size} rows parsed from SPEC §1`)
  for (const [code, status] of spec) {
    assert.ok(Object.hasOwn(ERRORS, code), `${code} is in SPEC but not in ERRORS`)
    assert.equal(ERRORS[code as ErrorCode].status, status, `status of ${code}`)
  }
})

test('errors: every code of ERRORS is in SPEC §1, except the documented additions', () => {
  const spec = specErrors()
  for (const [code, { status }] of Object.entries(ERRORS)) {
    if (Object.hasOwn(ADDITIONS, code)) {
      assert.equal(status, ADDITIONS[code], `status of ${code}`)
      assert.ok(!spec.has(code), `${code} is now in SPEC: drop it from the additions`)
      continue
    }
    assert.ok(spec.has(code), `${code} is in ERRORS but not in SPEC §1`)
  }
})

test("errors: the client's ErrorCode union names exactly the codes of ERRORS", () => {
  assert.equal(sameCodes, true)
  assert.deepEqual(Object.keys(CLIENT_CODES).sort(), Object.keys(ERRORS).sort())
})

test('errors: every detail is a sentence without a placeholder', () => {
  for (const [code, { detail }] of Object.entries(ERRORS)) assert.match(detail, /^[A-Z].*\.$/, code)
})
