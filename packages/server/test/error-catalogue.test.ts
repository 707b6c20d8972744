import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import type { ErrorCode } from '@baton/client'
import { ERRORS } from '../src/errors.js'

/**
 * The error table users read: the README's, under "## HTTP API". It is checked here both ways, so
 * the catalogue and its documentation cannot drift apart (fastify's errors test, in this manner).
 * The repository stands alone: the table lives inside it, not in the shared SPEC beside it.
 */
const README = fileURLToPath(new URL('../../../README.md', import.meta.url))

/** Codes baton answers that SPEC §1 leaves unnamed: the README marks each "(addition to SPEC)". */
const ADDITIONS: Record<string, number> = { csrf_failed: 403, request_header_fields_too_large: 431, login_busy: 503 }

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
  login_busy: true,
} as const satisfies Record<ErrorCode, true>

// Type level, both ways: ERRORS has every ErrorCode and nothing else.
type Missing = Exclude<ErrorCode, keyof typeof ERRORS>
type Extra = Exclude<keyof typeof ERRORS, ErrorCode>
const sameCodes: [Missing, Extra] extends [never, never] ? true : false = true

interface DocumentedError {
  status: number
  when: string
}

/** `| 400 | \`bad_request\` | when |` rows of the README's error table (the first table after "## HTTP API" whose header is `status | code | when`). */
function readmeErrors(text = readFileSync(README, 'utf8')): Map<string, DocumentedError> {
  const api = text.indexOf('\n## HTTP API')
  assert.ok(api >= 0, 'README.md has no "## HTTP API" section')
  const header = text.indexOf('| status | code | when |', api)
  assert.ok(header >= 0, 'README.md has no error table under "## HTTP API"')
  const end = text.indexOf('\n\n', header)
  const table = text.slice(header, end < 0 ? undefined : end)
  const out = new Map<string, DocumentedError>()
  for (const m of table.matchAll(/^\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|(.*)\|\s*$/gm)) {
    assert.ok(!out.has(m[2]!), `${m[2]} is listed twice in the README's error table`)
    out.set(m[2]!, { status: Number(m[1]), when: m[3]!.trim() })
  }
  return out
}

test('errors: README.md is inside the repository, where the catalogue test reads it', () => {
  assert.ok(existsSync(README), `${README} is missing: the catalogue cannot be checked against its documentation`)
})

test('errors: the table parser reads rows and ignores what is not a row (it can fail)', () => {
  const sample =
    'x\n## HTTP API\n\n| status | code | when |\n|---|---|---|\n| 400 | `bad_request` | bad |\n| 4O4 | `nope` | typo |\n\nafter\n| 500 | `late` | not in the table |\n'
  assert.deepEqual([...readmeErrors(sample)], [['bad_request', { status: 400, when: 'bad' }]])
})

test("errors: every code of the README's table is in ERRORS with the same status", () => {
  const documented = readmeErrors()
  assert.ok(documented.size >= 12, `only ${documented.size} rows parsed from the README's error table`)
  for (const [code, { status }] of documented) {
    assert.ok(Object.hasOwn(ERRORS, code), `${code} is in the README but not in ERRORS`)
    assert.equal(ERRORS[code as ErrorCode].status, status, `status of ${code}`)
  }
})

test("errors: every code of ERRORS is in the README's table; additions to SPEC §1 say so", () => {
  const documented = readmeErrors()
  for (const [code, { status }] of Object.entries(ERRORS)) {
    const row = documented.get(code)
    assert.ok(row !== undefined, `${code} is in ERRORS but not in the README's error table`)
    assert.equal(row.status, status, `status of ${code}`)
    assert.equal(
      /\(addition to SPEC\)/.test(row.when),
      Object.hasOwn(ADDITIONS, code),
      `${code}: "(addition to SPEC)" marks exactly the additions`,
    )
    if (Object.hasOwn(ADDITIONS, code)) assert.equal(status, ADDITIONS[code], `status of ${code}`)
  }
})

test("errors: the client's ErrorCode union names exactly the codes of ERRORS", () => {
  assert.equal(sameCodes, true)
  assert.deepEqual(Object.keys(CLIENT_CODES).sort(), Object.keys(ERRORS).sort())
})

test('errors: every detail is a sentence without a placeholder', () => {
  for (const [code, { detail }] of Object.entries(ERRORS)) assert.match(detail, /^[A-Z].*\.$/, code)
})
