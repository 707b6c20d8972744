import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * A signal that aborts when the request's client closes its connection before its answer is
 * written (issue 15: a login whose client gave up leaves the password-check queue).
 *
 * The response's `close`, not the request's: since Node 16 `IncomingMessage` emits `close` once
 * its body has been read, client still there or not. A response closes either after its last
 * byte (`writableFinished`) or because the connection went first.
 */
export function clientGoneSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const res = reply.raw
  // Gone while the body was read: the response's close event has already been and gone.
  if (request.raw.socket?.destroyed === true || res.destroyed) controller.abort()
  else
    res.once('close', () => {
      if (!res.writableFinished) controller.abort()
    })
  return controller.signal
}
