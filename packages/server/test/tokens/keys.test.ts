import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { KeyError, generateKey, loadKeys } from '../../src/tokens/keys.js'

// Fake PEM armour for malformed-key cases, assembled so no key-looking text sits in the tree.
const PEM_BEGIN = `-----BEGIN ${'PRIVATE'} KEY-----`
const PEM_END = `-----END ${'PRIVATE'} KEY-----`

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-keys-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const none = { privateKey: null, secret: null, verifyKeys: null }

for (const algorithm of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) {
  test(`keys: the ${algorithm} development key is created with mode 0600 and reused on the next start`, async (t) => {
    const dir = join(tempDir(t), 'data')
    const first = await loadKeys({ algorithm, ...none, devKeyDir: dir })
    assert.ok(first.devKeyFile !== null)
    assert.equal(statSync(first.devKeyFile).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700, 'the data folder others can read')
    const second = await loadKeys({ algorithm, ...none, devKeyDir: dir })
    assert.equal(second.devKeyFile, first.devKeyFile)
    assert.equal(second.kid, first.kid)
    assert.equal(second.jwks.keys.length, algorithm === 'HS256' ? 0 : 1)
    if (algorithm !== 'HS256') assert.ok(!('d' in second.jwks.keys[0]!))
  })
}

test('keys: without a configured key and without a development folder (production) loading refuses', async () => {
  await assert.rejects(loadKeys({ algorithm: 'EdDSA', ...none, devKeyDir: null }), KeyError)
  await assert.rejects(loadKeys({ algorithm: 'HS256', ...none, devKeyDir: null }), KeyError)
})

test('keys: a PKCS#8 PEM key (also with literal \\n, as env files carry it) gives the same kid as its JWK form', async () => {
  const { privateKey } = generateKeyPairSync('ed25519')
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }))
  const fromPEM = await loadKeys({ algorithm: 'EdDSA', ...none, privateKey: pem, devKeyDir: null })
  const fromJWK = await loadKeys({ algorithm: 'EdDSA', ...none, privateKey: jwk, devKeyDir: null })
  assert.equal(fromPEM.kid, fromJWK.kid)
  const config = loadConfig({ JWT_ALGORITHM: 'EdDSA', JWT_PRIVATE_KEY: pem.trim().replaceAll('\n', '\\n') })
  const fromEnv = await loadKeys({ algorithm: 'EdDSA', ...none, privateKey: config.privateKey, devKeyDir: null })
  assert.equal(fromEnv.kid, fromJWK.kid)
})

test('keys: a public key, a key of another algorithm or a broken key is a KeyError that does not echo the key', async () => {
  const ec = await generateKey('ES256')
  const { d: _d, ...publicJWK } = ec.privateJWK!
  const broken = JSON.stringify({ ...ec.privateJWK, d: 'AAAA' })
  for (const [algorithm, privateKey] of [
    ['ES256', JSON.stringify(publicJWK)],
    ['EdDSA', JSON.stringify(ec.privateJWK)],
    ['ES256', broken],
    ['RS256', PEM_BEGIN + '\nnot-base64-at-all\n' + PEM_END],
  ] as const) {
    const err = await loadKeys({ algorithm, ...none, privateKey, devKeyDir: null }).then(
      () => assert.fail(`${algorithm} accepted a bad key`),
      (e: unknown) => e,
    )
    assert.ok(err instanceof KeyError, String(err))
    assert.match(err.message, /JWT_PRIVATE_KEY/)
    assert.ok(!err.message.includes(ec.privateJWK!.d!) && !err.message.includes(ec.privateJWK!.x!))
  }
})

test('keys: JWT_VERIFY_KEYS refuses private keys, refuses what is not a JWKS, and names the variable for an unusable key', async () => {
  const old = await generateKey('EdDSA')
  for (const verifyKeys of [JSON.stringify({ keys: [old.privateJWK] }), 'not json', '{"nokeys": true}']) {
    const err = await loadKeys({
      algorithm: 'EdDSA',
      ...none,
      verifyKeys,
      devKeyDir: null,
      privateKey: JSON.stringify(old.privateJWK),
    }).then(
      () => assert.fail(`accepted ${verifyKeys.slice(0, 20)}`),
      (e: unknown) => e,
    )
    assert.ok(err instanceof KeyError, String(err))
    assert.match(err.message, /JWT_VERIFY_KEYS/)
  }
  // An Ed25519 public key without "alg" while the server now signs ES256: not usable as ES256.
  const current = await generateKey('ES256')
  const { d: _d, ...oldPublic } = old.privateJWK!
  const err = await loadKeys({
    algorithm: 'ES256',
    ...none,
    privateKey: JSON.stringify(current.privateJWK),
    verifyKeys: JSON.stringify({ keys: [oldPublic] }),
    devKeyDir: null,
  }).then(
    () => assert.fail('an Ed25519 key was accepted as ES256'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof KeyError, `not a KeyError: ${String(err)}`)
  assert.match(err.message, /JWT_VERIFY_KEYS/)
  // With its "alg" the old key is accepted next to the new one.
  const ok = await loadKeys({
    algorithm: 'ES256',
    ...none,
    privateKey: JSON.stringify(current.privateJWK),
    verifyKeys: JSON.stringify({ keys: [{ ...oldPublic, alg: 'EdDSA' }] }),
    devKeyDir: null,
  })
  assert.equal(ok.verifyKeys.size, 2)
  assert.equal(ok.jwks.keys.length, 2)
})

test('keys: the development key file holds a private JWK readable only by its owner', async (t) => {
  const dir = tempDir(t)
  const keys = await loadKeys({ algorithm: 'EdDSA', ...none, devKeyDir: dir })
  const jwk = JSON.parse(readFileSync(keys.devKeyFile!, 'utf8')) as { kty: string; d?: string }
  assert.equal(jwk.kty, 'OKP')
  assert.ok(typeof jwk.d === 'string')
})

for (const algorithm of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) {
  test(`keys: twenty loads racing on a fresh folder all get the one ${algorithm} development key`, async (t) => {
    const dir = join(tempDir(t), 'data')
    const sets = await Promise.all(Array.from({ length: 20 }, () => loadKeys({ algorithm, ...none, devKeyDir: dir })))
    assert.deepEqual(new Set(sets.map((s) => s.kid)).size, 1, 'every racer signs with the same key')
    const again = await loadKeys({ algorithm, ...none, devKeyDir: dir })
    assert.equal(again.kid, sets[0]!.kid, 'and it is the key on disk')
    assert.deepEqual(readdirSync(dir), [sets[0]!.devKeyFile!.split('/').pop()], 'no temp file is left behind')
  })
}
