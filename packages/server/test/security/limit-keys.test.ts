import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addressLimitKey, usernameLimitKey } from '../../src/limits/limit-keys.js'

test('usernameLimitKey: case and NFKC compatibility spellings of a name give one key', () => {
  for (const s of ['alice', 'ALICE', 'Alice', 'ａｌｉｃｅ', 'ＡＬＩＣＥ', '𝐚𝐥𝐢𝐜𝐞', 'ⓐⓛⓘⓒⓔ'.normalize('NFKC')])
    assert.equal(usernameLimitKey(s), 'alice', s)
  assert.notEqual(usernameLimitKey('alice2'), 'alice')
})

test('addressLimitKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 as its /64', () => {
  assert.equal(addressLimitKey('192.0.2.1'), '192.0.2.1')
  assert.equal(addressLimitKey('::ffff:192.0.2.1'), '192.0.2.1')
  assert.equal(addressLimitKey('::FFFF:192.0.2.1'), '192.0.2.1')
  assert.equal(addressLimitKey('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  assert.equal(addressLimitKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64')
  assert.equal(addressLimitKey('2001:db8::'), '2001:db8:0:0::/64')
  assert.equal(addressLimitKey('::1'), '0:0:0:0::/64')
  assert.equal(addressLimitKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  assert.equal(addressLimitKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64')
  assert.notEqual(addressLimitKey('2001:db8:1:3::1'), addressLimitKey('2001:db8:1:2::1'))
  assert.equal(addressLimitKey('not an address'), 'not an address')
})
