import assert from 'node:assert/strict'
import type { JsonWebKey as NodeJWK } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { createPublicKey } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { generateKey, loadKeys } from '../../src/tokens/keys.js'
import { runCLI } from './run-cli.js'

/** Reads the variables back the way a shell does when the output is pasted or `eval`ed. */
function throughShell(output: string): Record<string, string> {
  const script = `${output}\nprintf '%s\\0%s\\0%s' "$JWT_ALGORITHM" "$JWT_PRIVATE_KEY" "$JWT_SECRET"`
  const res = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
  assert.equal(res.status, 0, res.stderr)
  const [JWT_ALGORITHM = '', JWT_PRIVATE_KEY = '', JWT_SECRET = ''] = res.stdout.split('\0')
  const env: Record<string, string> = { JWT_ALGORITHM }
  if (JWT_PRIVATE_KEY !== '') env.JWT_PRIVATE_KEY = JWT_PRIVATE_KEY
  if (JWT_SECRET !== '') env.JWT_SECRET = JWT_SECRET
  return env
}

for (const alg of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) {
  test(`keygen: --alg ${alg} prints variables that configuration accepts back, in production too`, async () => {
    const { code, stdout, stderr } = await runCLI(['keygen', '--alg', alg])
    assert.equal(code, 0, stderr)
    const env = throughShell(stdout)
    assert.equal(env.JWT_ALGORITHM, alg)
    assert.ok(alg === 'HS256' ? env.JWT_SECRET !== undefined : env.JWT_PRIVATE_KEY !== undefined)
    const config = loadConfig({ ...env, BATON_MODE: 'production' })
    assert.equal(config.algorithm, alg)
    const keys = await loadKeys({ algorithm: alg, privateKey: config.privateKey, secret: config.secret, verifyKeys: null, devKeyDir: null })
    // The key id it announces is the one the server will put in `kid`.
    assert.match(stderr, new RegExp(`key id ${keys.kid}\\b`))
    assert.ok(!stderr.includes(env.JWT_PRIVATE_KEY ?? env.JWT_SECRET!), 'the secret is on stderr')
  })
}

test('keygen: ES256 is the default and every run prints a new key', async () => {
  const a = await runCLI(['keygen'])
  const b = await runCLI(['keygen'])
  assert.equal(a.code, 0)
  assert.match(a.stdout, /^JWT_ALGORITHM=ES256$/m)
  assert.notEqual(a.stdout, b.stdout)
})

test('keygen: --json prints one JSON object with the algorithm, kid and key', async () => {
  const { code, stdout } = await runCLI(['keygen', '--alg', 'ES256', '--json'])
  assert.equal(code, 0)
  const out = JSON.parse(stdout) as { algorithm: string; kid: string; privateKey: { kty: string; d: string } }
  assert.equal(out.algorithm, 'ES256')
  assert.equal(out.privateKey.kty, 'EC')
  const keys = await loadKeys({
    algorithm: 'ES256',
    privateKey: JSON.stringify(out.privateKey),
    secret: null,
    verifyKeys: null,
    devKeyDir: null,
  })
  assert.equal(keys.kid, out.kid)
})

test('keygen: an unknown algorithm exits 2; --help exits 0', async () => {
  const bad = await runCLI(['keygen', '--alg', 'none'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /EdDSA, ES256, RS256, HS256/)
  const help = await runCLI(['keygen', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /Usage: baton keygen/)
})

for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
  test(`keygen: --public-pem prints the SPKI PEM of the configured ${alg} key, the one the JWKS publishes`, async () => {
    const { privateJWK } = await generateKey(alg)
    const env = { JWT_ALGORITHM: alg, JWT_PRIVATE_KEY: JSON.stringify(privateJWK), BATON_MODE: 'production' }
    const { code, stdout, stderr } = await runCLI(['keygen', '--public-pem'], env)
    assert.equal(code, 0, stderr)
    assert.match(stdout, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/)
    const keys = await loadKeys({ algorithm: alg, privateKey: env.JWT_PRIVATE_KEY, secret: null, verifyKeys: null, devKeyDir: null })
    const published = createPublicKey({ key: keys.jwks.keys[0]! as NodeJWK, format: 'jwk' })
    assert.ok(createPublicKey(stdout).equals(published), 'the PEM is the published key')
    assert.match(stderr, new RegExp(`key id ${keys.kid}`))
    assert.ok(!`${stdout}${stderr}`.includes(privateJWK!.d!), 'the private key is not printed')
  })
}

test('keygen: --public-pem with no key prints the development key serve uses (default ES256); HS256 has none (exit 2)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-keygen-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const first = await runCLI(['keygen', '--public-pem'], { BATON_DATA_DIR: dir })
  assert.equal(first.code, 0, first.stderr)
  const keys = await loadKeys({ algorithm: 'ES256', privateKey: null, secret: null, verifyKeys: null, devKeyDir: dir })
  assert.equal(keys.devKeyFile, join(dir, 'dev-key-ES256.json'))
  assert.ok(createPublicKey(first.stdout).equals(createPublicKey({ key: keys.jwks.keys[0]! as NodeJWK, format: 'jwk' })))
  assert.equal((await runCLI(['keygen', '--public-pem'], { BATON_DATA_DIR: dir })).stdout, first.stdout)

  const hs = await runCLI(['keygen', '--public-pem'], { JWT_ALGORITHM: 'HS256', JWT_SECRET: 'x'.repeat(32) })
  assert.equal(hs.code, 2)
  assert.equal(hs.stdout, '')
  assert.match(hs.stderr, /HS256 has no public key/)
  assert.ok(!hs.stderr.includes('x'.repeat(32)))
  const prod = await runCLI(['keygen', '--public-pem'], { BATON_MODE: 'production' })
  assert.equal(prod.code, 78)
  assert.match(prod.stderr, /JWT_PRIVATE_KEY/)
})

test('keygen: --refresh prints a new BATON_REFRESH_SECRET that configuration accepts; --derived prints the key serve derives now', async () => {
  const a = await runCLI(['keygen', '--refresh'])
  const b = await runCLI(['keygen', '--refresh'])
  assert.equal(a.code, 0, a.stderr)
  assert.match(a.stdout, /^BATON_REFRESH_SECRET=base64:[A-Za-z0-9+/]{43}=\n$/)
  assert.notEqual(a.stdout, b.stdout)
  const value = a.stdout.trim().slice('BATON_REFRESH_SECRET='.length)
  const { privateJWK } = await generateKey('ES256')
  const env = { BATON_MODE: 'production', JWT_PRIVATE_KEY: JSON.stringify(privateJWK) }
  const config = loadConfig({ ...env, BATON_REFRESH_SECRET: value })
  const pinned = await loadKeys({
    algorithm: 'ES256',
    privateKey: config.privateKey,
    secret: null,
    verifyKeys: null,
    devKeyDir: null,
    refreshSecret: config.refreshSecret,
  })
  assert.match(a.stderr, new RegExp(`refresh-token key id ${pinned.refresh.kid};`))
  assert.ok(!a.stderr.includes(value.slice(7)), 'the secret is on stderr')

  // --derived alone would otherwise print a new signing key: a usage error.
  const alone = await runCLI(['keygen', '--derived'], env)
  assert.equal(alone.code, 2)
  assert.match(alone.stderr, /--derived goes with --refresh/)
  assert.equal(alone.stdout, '')
  // --derived: the key of this environment while BATON_REFRESH_SECRET is unset, as serve derives it.
  const derived = await runCLI(['keygen', '--refresh', '--derived', '--json'], env)
  assert.equal(derived.code, 0, derived.stderr)
  const out = JSON.parse(derived.stdout) as { refreshSecret: string; kid: string }
  const serving = await loadKeys({ algorithm: 'ES256', privateKey: env.JWT_PRIVATE_KEY, secret: null, verifyKeys: null, devKeyDir: null })
  assert.equal(out.kid, serving.refresh.kid)
  const repinned = loadConfig({ ...env, BATON_REFRESH_SECRET: out.refreshSecret })
  assert.ok(Buffer.from(repinned.refreshSecret!).equals(Buffer.from(serving.refresh.secret)))
  const set = await runCLI(['keygen', '--refresh', '--derived'], { ...env, BATON_REFRESH_SECRET: value })
  assert.equal(set.code, 2)
  assert.equal(set.stdout, '')
  assert.equal((await runCLI(['keygen', '--refresh', '--derived'], { BATON_MODE: 'production' })).code, 78, 'no signing key to derive from')
})
