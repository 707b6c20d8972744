import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_USER_AGENT_LENGTH, compactUserAgent } from '../../src/http/user-agent.js'

const CASES: [string, string][] = [
  [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    '(X11; Linux x86_64) Chrome/120.0.0.0',
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
    '(Macintosh; Intel Mac OS X 10_15_7) Version/17.1 Safari/605.1.15',
  ],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
    '(Windows NT 10.0; Win64; x64; rv:121.0) Firefox/121.0',
  ],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0',
    '(Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Edg/120.0.0.0',
  ],
  ['curl/8.4.0', 'curl/8.4.0'],
  ['axios/1.6.2', 'axios/1.6.2'],
  ['Mozilla/5.0', 'Mozilla/5.0'],
]

for (const [ua, expected] of CASES) {
  test(`user agent: ${expected} is kept of "${ua.slice(0, 40)}…"`, () => {
    assert.equal(compactUserAgent(ua), expected)
  })
}

test('user agent: anything longer is cut at 128 characters', () => {
  assert.equal(compactUserAgent('x'.repeat(10_000)).length, MAX_USER_AGENT_LENGTH)
})
