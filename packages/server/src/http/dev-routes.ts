import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import { BatonError } from '../errors.js'
import type { StoreFaultSwitch } from '../store/fault-switch.js'
import { BODY_ERRORS, errorResponses } from './schemas.js'
import { MESSAGES, type ObjectSchema } from './validator.js'

/** Where the demo page's development-only controls live. */
export const DEV_STORE_PATH = '/demo/dev/store'

/**
 * The demo page's development-only controls (README "Demo page"): `GET`/`POST /demo/dev/store`
 * reads and sets the outage switch, so a newcomer on the default SQLite store can watch the 503s,
 * the degraded client and the recovery of SPEC §4 without a Redis to stop. app.ts registers this
 * only in development mode with the demo on; in production the routes do not exist (404).
 *
 * Only a client on this machine may use them: the connection must come from a loopback address
 * and carry no proxy header (a reverse proxy on this host would otherwise let anyone in). Anyone
 * else gets the same 404 as for an unknown route, so the routes are not even visible. The POST
 * takes a JSON body, which a cross-site form cannot send without a CORS preflight.
 */
export function registerDevRoutes(app: FastifyInstance, fault: StoreFaultSwitch): void {
  // onRequest: anyone else is answered before the body is even read, as for an unknown route.
  const onRequest = async (request: FastifyRequest) => onlyLocal(request)
  const response = { 200: DOWN_STATE, ...errorResponses('not_found') }

  app.get(DEV_STORE_PATH, { onRequest, schema: { response } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send({ down: fault.down() })
  })

  const schema = { body: DOWN_BODY, response: { ...response, ...errorResponses(...BODY_ERRORS) } }
  app.post<{ Body: { down: boolean } }>(
    DEV_STORE_PATH,
    { onRequest, schema, schemaErrorFormatter: downProblem },
    async (request, reply) => {
      const down = request.body.down
      fault.set(down)
      request.log.warn(
        { event: down ? 'dev_store_broken' : 'dev_store_healed' },
        down ? 'demo: session store switched off (development fault injection)' : 'demo: session store switched back on',
      )
      return reply.header('cache-control', 'no-store').send({ down: fault.down() })
    },
  )
}

/** `{"down": true|false}` and nothing else (SPEC §1: bad input is a 400 naming the field). */
const DOWN_BODY: ObjectSchema = {
  type: 'object',
  properties: { down: { type: 'boolean' } },
  required: ['down'],
  additionalProperties: false,
}
const DOWN_STATE = { type: 'object', properties: { down: { type: 'boolean' } }, required: ['down'], additionalProperties: false } as const

/** One message for any problem of the body: the switch has one field, and it is a boolean. */
function downProblem(errors: FastifySchemaValidationError[]): Error {
  if (errors.some((e) => e.instancePath === '')) return new BatonError('bad_request', { detail: MESSAGES.notObject })
  return new BatonError('bad_request', {
    detail: 'Invalid request body.',
    messages: { down: 'Must be true or false, and the only field.' },
  })
}

function onlyLocal(request: FastifyRequest): void {
  const headers = request.headers
  const proxied = headers['x-forwarded-for'] !== undefined || headers['forwarded'] !== undefined || headers['x-real-ip'] !== undefined
  // The socket's peer, not request.ip: with BATON_TRUST_PROXY that comes from a header.
  if (proxied || !isLoopback(request.socket.remoteAddress) || !isLoopbackHost(request.headers.host)) throw new BatonError('not_found')
}

/**
 * The Host the browser addressed: a page on another site can rebind its own name to 127.0.0.1
 * (DNS rebinding) and then call this route same-origin; its Host is still its own name.
 */
function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '')
  return name === 'localhost' || name === '[::1]' || (isIP(name) === 4 && name.startsWith('127.'))
}

/** 127.0.0.0/8, ::1, and IPv4-mapped 127.x (a dual-stack listener reports those). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined || isIP(address) === 0) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  if (isIP(v4) === 4) return v4.startsWith('127.')
  return address === '::1'
}
