import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort } from '../helpers/redis-server.js'
import { startServe } from './run-cli.js'

// SPEC §7 graceful shutdown: under systemd (KillMode=control-group) or the cluster primary, a
// worker can get SIGTERM twice; the second must not kill it while a request is in flight.
test('serve: a second SIGTERM while a request is in flight does not cut it off; the process exits 0', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-shutdown-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const served = await startServe({ PORT: String(port), BATON_DATA_DIR: dir, LOG_LEVEL: 'info', PASSWORD_SCRYPT_LN: '10' })
  const base = `http://127.0.0.1:${port}`
  const body = JSON.stringify({ username: 'grace', password: 'correct horse battery staple' })
  const register = await fetch(`${base}/api/auth/register/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  assert.equal(register.status, 201)

  // A login whose body is held back: in flight on the server until the test sends the rest.
  let held: () => void = () => undefined
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(
      `${base}/api/auth/token/`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.write(body.slice(0, 10))
    t.after(() => req.destroy())
    held = () => req.end(body.slice(10))
  })
  // Its headers were sent before this request on another connection; once this is answered the
  // server has read them too (one event loop, data in arrival order).
  assert.equal((await fetch(`${base}/healthz`)).status, 200)

  served.child.kill('SIGTERM')
  await served.waitFor(/shutting down/)
  served.child.kill('SIGTERM')
  // The second signal has been handled (or has killed the process) once a third is not needed:
  // wait for either the exit or a short round trip of the still-open connection.
  await Promise.race([served.exited, new Promise((r) => setTimeout(r, 200))])
  held()
  assert.equal(await answered, 200, `the in-flight login is answered:\n${served.output()}`)
  assert.equal(await served.exited, 0, `exits cleanly, not by the second signal:\n${served.output()}`)
})
