/**
 * Loading keys and making the token codec prints no Node warning. On Node 24, KeyObject.from of a
 * non-extractable CryptoKey is deprecated (DEP0204): every `baton serve` printed a
 * DeprecationWarning. Node 20 and 22 have no such deprecation, so this fails only on 24
 * (scripts/test-node.sh runs it there).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { after, test } from 'node:test'
import { createTokenCodec } from '../../src/tokens/jwt.js'
import { loadKeys } from '../../src/tokens/keys.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-key-object-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('keys: a codec for each algorithm signs and verifies without a Node warning', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.name} ${w.code ?? ''}: ${w.message}`)
  process.on('warning', onWarning)
  try {
    for (const algorithm of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) {
      const keys = await loadKeys({ algorithm, privateKey: null, secret: null, verifyKeys: null, devKeyDir: join(dir, algorithm) })
      const codec = createTokenCodec(keys, { issuer: 'baton', audience: 'baton', leeway: 5, clock: Date.now })
      const iat = Math.floor(Date.now() / 1000)
      const token = await codec.signAccess({ sub: '1', sid: 's_1', jti: 'j_1', user_id: '1', iat, exp: iat + 300 })
      assert.equal((await codec.verifyAccess(token)).sub, '1', algorithm)
    }
    await tick() // warnings are emitted on a later tick
  } finally {
    process.off('warning', onWarning)
  }
  assert.deepEqual(warnings, [])
})
