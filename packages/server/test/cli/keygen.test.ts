import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { loadKeys } from '../../src/tokens/keys.js'
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

test('keygen: EdDSA is the default and every run prints a new key', async () => {
  const a = await runCLI(['keygen'])
  const b = await runCLI(['keygen'])
  assert.equal(a.code, 0)
  assert.match(a.stdout, /^JWT_ALGORITHM=EdDSA$/m)
  assert.notEqual(a.stdout, b.stdout)
})

test('keygen: --json prints one JSON object with the algorithm, kid and key', async () => {
  const { code, stdout } = await runCLI(['keygen', '--alg', 'ES256', '--json'])
  assert.equal(code, 0)
  const out = JSON.parse(stdout) as { algorithm: string; kid: string; privateKey: { kty: string; d: string } }
  assert.equal(out.algorithm, 'ES256')
  assert.equal(out.privateKey.kty, 'EC')
  const keys = await loadKeys({ algorithm: 'ES256', privateKey: JSON.stringify(out.privateKey), secret: null, verifyKeys: null, devKeyDir: null })
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
