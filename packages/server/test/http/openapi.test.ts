/**
 * GET /openapi.json (http/openapi.ts): the OpenAPI 3.1 document made from the route schemas.
 * Checked against the router both ways: every route Fastify serves (its own route table, read
 * through printRoutes, not through the document's generator) is in the document with the
 * response codes its schema declares, and every operation the document lists is served.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { OPENAPI_PATH } from '../../src/http/openapi.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

interface Operation {
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>
  requestBody?: { content: Record<string, { schema: unknown }> }
  parameters?: { in: string; name: string }[]
}
interface Document {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

async function setup(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createTestServer(env)
  t.after(() => server.close())
  return server
}

/** Route paths as the router has them (no trailing slash), `:param` as OpenAPI's `{param}`. */
function canonical(path: string): string {
  const bare = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
  return bare.replace(/:([A-Za-z_]+)/g, '{$1}')
}

/**
 * Method + path of every route in Fastify's router, from `printRoutes({commonPrefix: false})`:
 * a tree whose lines are `├── segment (GET, HEAD)`, four columns per level, each segment
 * continuing its parent's path.
 */
export function routerRoutes(tree: string): Set<string> {
  const out = new Set<string>()
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (m === null) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '') + m[2]!
    stack[depth] = path
    for (const method of m[3]?.split(', ') ?? []) out.add(`${method} ${canonical(path)}`)
  }
  return out
}

function documented(doc: Document): Map<string, Operation> {
  const out = new Map<string, Operation>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) out.set(`${method.toUpperCase()} ${canonical(path)}`, op)
  }
  return out
}

/** Answers the router gives each operation: to nobody, to a logged-in user with an empty body. */
async function probe(s: TestServer, key: string, access: string): Promise<number[]> {
  const [method, path] = key.split(' ') as ['GET' | 'POST' | 'DELETE', string]
  const url = path.replace(/\{[A-Za-z_]+\}/g, 's_nope')
  const anonymous = await s.app.inject({ method, url })
  const withBody =
    method === 'POST'
      ? { payload: {}, headers: { authorization: `Bearer ${access}`, 'x-baton-csrf': '1' } }
      : { headers: { authorization: `Bearer ${access}` } }
  const signedIn = await s.app.inject({ method, url, ...withBody })
  for (const answer of [anonymous, signedIn]) {
    // Never the not-found handler (a session id of nobody's is the route's own 404).
    if (answer.statusCode === 404) assert.ok(key.startsWith('DELETE /api/auth/sessions/'), `${key}: 404 ${answer.body}`)
  }
  return [anonymous.statusCode, signedIn.statusCode]
}

/** The contract of the routes the README's table names, as their schemas declare it. */
const CODES: Record<string, string[]> = {
  'POST /api/auth/token': ['200', '400', '401', '413', '415', '429', '500', '503'],
  'POST /api/auth/refresh': ['200', '400', '401', '413', '415', '429', '500', '503'],
  'POST /api/auth/verify': ['200', '400', '401', '413', '415', '500', '503'],
  'POST /api/auth/logout': ['200', '400', '401', '413', '415', '500', '503'],
  'POST /api/auth/logout-all': ['200', '401', '500', '503'],
  'GET /api/auth/sessions': ['200', '400', '401', '500', '503'],
  'DELETE /api/auth/sessions/{id}': ['204', '401', '404', '500', '503'],
  'POST /api/auth/register': ['201', '400', '409', '413', '415', '500', '503'],
  'GET /api/me': ['200', '401', '500', '503'],
  'GET /readyz': ['200', '503'],
  'GET /healthz': ['200'],
}

async function signedIn(s: TestServer): Promise<string> {
  await s.addUser('alice', 'correct horse battery')
  const res = await s.post('/api/auth/token/', { username: 'alice', password: 'correct horse battery' })
  assert.equal(res.statusCode, 200, res.body)
  return (res.json() as { access: string }).access
}

async function check(t: TestContext, env: Record<string, string>, expect: { present: string[]; absent: string[] }) {
  const s = await setup(t, env)
  const res = await s.get(OPENAPI_PATH)
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  const doc = res.json() as Document
  assert.equal(doc.openapi, '3.1.0')
  const cookie = env.BATON_TOKEN_TRANSPORT === 'cookie'
  const access = await signedIn(s)
  const ops = documented(doc)
  const served = routerRoutes(s.app.printRoutes({ commonPrefix: false }))
  assert.ok(served.size >= 20, `only ${served.size} routes read from the router:\n${s.app.printRoutes({ commonPrefix: false })}`)

  for (const key of served) {
    // The demo's static files (@fastify/static's wildcards) are files, not API: hidden.
    if (key.endsWith('*')) continue
    const op = ops.get(key)
    assert.ok(op !== undefined, `${key} is served but not in ${OPENAPI_PATH}`)
    const expected = CODES[key]
    if (expected !== undefined && !(cookie && /refresh|logout$/.test(key)))
      assert.deepEqual(Object.keys(op.responses).sort(), expected, `${key}: response codes`)
    for (const status of await probe(s, key, access))
      assert.ok(String(status) in op.responses, `${key} answered ${status}, which its responses do not list`)
    for (const [code, answer] of Object.entries(op.responses)) {
      assert.ok(answer.description.length > 0, `${key} ${code}: no description`)
      // Every error is the error body; readyz's 503 is its own answer (the store's state).
      if (Number(code) >= 400 && key !== 'GET /readyz' && key !== 'HEAD /readyz')
        assert.deepEqual(answer.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorBody' }, `${key} ${code}`)
    }
  }
  for (const key of ops.keys()) assert.ok(served.has(key), `${key} is in ${OPENAPI_PATH} but not served`)
  for (const key of expect.present) assert.ok(ops.has(key), `${key} missing`)
  for (const key of expect.absent) assert.ok(!ops.has(key), `${key} listed`)
  return { s, doc }
}

test('openapi: body mode lists every served route with its response codes, and nothing that is not served', async (t) => {
  const { doc } = await check(
    t,
    {},
    {
      present: [
        'POST /api/auth/token',
        'POST /api/token/refresh',
        'GET /api/auth/sessions',
        'HEAD /api/auth/sessions',
        'DELETE /api/auth/sessions/{id}',
        'GET /openapi.json',
        'POST /api/auth/register',
      ],
      absent: ['GET /demo/config.json', 'POST /demo/dev/store'],
    },
  )
  // The contract is the validator's: the document shows the same limits.
  const login = doc.paths['/api/auth/token/']!.post!
  assert.deepEqual(login.requestBody?.content['application/json']?.schema, {
    type: 'object',
    properties: { username: { type: 'string', minLength: 1, maxLength: 150 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
    required: ['username', 'password'],
    additionalProperties: false,
  })
  const list = doc.paths['/api/auth/sessions/']!.get!
  assert.deepEqual(
    list.parameters?.map((p) => [p.in, p.name]),
    [['query', 'limit']],
  )
  const error = doc.components.schemas.ErrorBody as { properties: Record<string, unknown>; required: string[] }
  assert.deepEqual(Object.keys(error.properties).sort(), ['code', 'detail', 'messages', 'request_id'])
})

test('openapi: cookie mode lists no simplejwt path (they are not served) and no refresh body', async (t) => {
  const { doc } = await check(
    t,
    { BATON_TOKEN_TRANSPORT: 'cookie' },
    {
      present: ['POST /api/auth/refresh', 'POST /api/auth/logout'],
      absent: ['POST /api/token', 'POST /api/token/refresh', 'POST /api/token/verify', 'POST /api/token/blacklist'],
    },
  )
  assert.equal(doc.paths['/api/auth/refresh/']!.post!.requestBody, undefined)
  assert.ok('403' in doc.paths['/api/auth/refresh/']!.post!.responses, 'csrf_failed is listed')
})

test('openapi: registration off (production) is not listed; the demo and its development controls are, when served', async (t) => {
  const { generateKey } = await import('../../src/tokens/keys.js')
  const key = await generateKey('ES256')
  await check(
    t,
    { BATON_MODE: 'production', JWT_PRIVATE_KEY: JSON.stringify(key.privateJWK) },
    { present: ['GET /readyz'], absent: ['POST /api/auth/register'] },
  )
  await check(t, { BATON_DEMO: 'true' }, { present: ['GET /demo/dev/store', 'POST /demo/dev/store'], absent: [] })
})

test('openapi: the route table reader reads nested segments and methods (it can fail)', () => {
  const tree =
    '├── /api/auth/token (POST)\n│   └── /blacklist (POST)\n├── /api/auth/logout (POST)\n│   └── -all (POST)\n└── /api/auth/sessions (GET, HEAD)\n    └── /:id (DELETE)\n'
  assert.deepEqual([...routerRoutes(tree)].sort(), [
    'DELETE /api/auth/sessions/{id}',
    'GET /api/auth/sessions',
    'HEAD /api/auth/sessions',
    'POST /api/auth/logout',
    'POST /api/auth/logout-all',
    'POST /api/auth/token',
    'POST /api/auth/token/blacklist',
  ])
})
