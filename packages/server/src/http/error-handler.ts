import type { ErrorBody, ErrorCode } from '@baton/client'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BatonError, ERRORS, StoreUnavailableError } from '../errors.js'
import { UserStoreUnavailableError } from '../users/errors.js'

/** Fastify's own errors for bad input, mapped to SPEC §1 codes. Anything else is a bug. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'bad_request',
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_ASYNC_CONSTRAINT: 'bad_request',
}

/** Whether the request presented a bearer token: RFC 6750 §3.1 then names `invalid_token`. */
function presentedBearer(request: FastifyRequest): boolean {
  const h = request.headers.authorization
  return typeof h === 'string' && /^bearer\s/i.test(h)
}

/** Writes `{detail, code}` for a BatonError with its status and headers. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: BatonError): FastifyReply {
  const body: ErrorBody = { detail: err.message, code: err.code }
  if (err.messages !== undefined) body.messages = err.messages
  for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v)
  if (err.status === 401) {
    void reply.header('www-authenticate', presentedBearer(request) ? 'Bearer realm="baton", error="invalid_token"' : 'Bearer realm="baton"')
  }
  void reply.header('cache-control', 'no-store')
  return reply.code(err.status).send(body)
}

/**
 * The only writer of error responses. Expected failures keep their code; a store failure is a
 * 503 (already logged once by the store guard); anything else is a bug: 500 with a request id
 * that is also in the log line with the stack. Bodies never carry a token, key id, store
 * address or stack.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | BatonError | Error, request, reply) => {
    if (error instanceof UserStoreUnavailableError) {
      // The session store guard logs its own failures; the user database has no guard, so its
      // one line with the cause (address masked, cause sanitized by the store) is written here.
      request.log.warn(
        { event: 'user_store_error', operation: error.operation, address: error.address, err: error.cause },
        `user database ${error.operation} failed`,
      )
      return sendError(request, reply, error)
    }
    if (error instanceof StoreUnavailableError) return sendError(request, reply, error)
    if (error instanceof BatonError) return sendError(request, reply, error)

    const fastifyCode = 'code' in error && typeof error.code === 'string' ? FASTIFY_CODES[error.code] : undefined
    if (fastifyCode !== undefined) {
      const detail = fastifyCode === 'bad_request' ? badRequestDetail(error) : ERRORS[fastifyCode].detail
      return sendError(request, reply, new BatonError(fastifyCode, { detail }))
    }
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500
    if (status === 413) return sendError(request, reply, new BatonError('payload_too_large'))
    if (status === 415) return sendError(request, reply, new BatonError('unsupported_media_type'))
    if (status >= 400 && status < 500) return sendError(request, reply, new BatonError('bad_request'))

    request.log.error({ err: error, request_id: request.id }, 'unhandled error')
    const body: ErrorBody = { detail: ERRORS.internal_error.detail, code: 'internal_error', request_id: request.id }
    return reply.code(500).header('cache-control', 'no-store').send(body)
  })

  app.setNotFoundHandler((request, reply) => sendError(request, reply, new BatonError('not_found')))
}

/**
 * Errors Fastify's router raises before a route runs (`frameworkErrors`): without this hook it
 * answers them itself, in its own shape and echoing the URL. A path that does not decode is a
 * 400; a path parameter longer than any id we issue names nothing of yours: 404.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const code: ErrorCode = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'not_found' : 'bad_request'
  return sendError(request, reply, new BatonError(code))
}

function badRequestDetail(error: Error): string {
  // Fastify's JSON parser messages quote part of the body: never echo input back.
  if ('code' in error && error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'Request body is empty.'
  if ('code' in error && error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return 'Request body is not valid JSON.'
  return ERRORS.bad_request.detail
}
