import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort } from '../helpers/redis-server.js'
import { startServe } from './run-cli.js'

/** One request on a connection of its own, so node:cluster hands each to the next worker. */
function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { ...headers, connection: 'close' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, json: (await res.json()) as Record<string, string> }
}

// Issue 11: on a fresh data folder each worker used to create its own development key, so one
// start in three answered 401, 200, 401, 200… (each worker verified only its own signatures).
test(
  'serve: WORKERS=2 on a fresh data folder, started six times: every request of every start verifies',
  { timeout: 180_000 },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'baton-workers-'))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    for (let start = 0; start < 6; start++) {
      const dataDir = join(root, `data-${start}`)
      const port = await freePort()
      const served = await startServe({
        WORKERS: '2',
        PORT: String(port),
        BATON_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        PASSWORD_SCRYPT_LN: '10',
      })
      try {
        const base = `http://127.0.0.1:${port}`
        const creds = { username: `user${start}`, password: 'correct horse battery staple' }
        assert.equal((await post(`${base}/api/auth/register/`, creds)).status, 201)
        const login = await post(`${base}/api/auth/token/`, creds)
        assert.equal(login.status, 200)
        const statuses: number[] = []
        for (let i = 0; i < 10; i++) statuses.push(await get(`${base}/api/me/`, { authorization: `Bearer ${login.json.access}` }))
        assert.deepEqual(statuses, Array(10).fill(200), `start ${start}: ${statuses.join(', ')}\n${served.output()}`)
        const keyFiles = readdirSync(dataDir).filter((f) => f.startsWith('dev-'))
        assert.equal(keyFiles.length, 1, `one development key file, no temp files left: ${keyFiles.join(', ')}`)
      } finally {
        served.child.kill('SIGTERM')
        await served.exited
      }
    }
  },
)
