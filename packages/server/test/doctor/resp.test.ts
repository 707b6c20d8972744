import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, test } from 'node:test'
import {
  describeBytes,
  encodeCommand,
  parseReply,
  RespClient,
  RespClosedError,
  RespErrorReply,
  RespProtocolError,
  RespTimeoutError,
} from '../../src/doctor/resp.js'
import { reply, startRespMockServer } from '../helpers/resp-mock-server.js'

test('resp: commands are encoded as arrays of bulk strings, lengths in bytes', () => {
  assert.equal(encodeCommand(['SET', 'k', 'é']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n')
})

test('resp: parses every RESP2 type, and asks for more bytes when a reply is cut', () => {
  const b = (s: string): Buffer => Buffer.from(s)
  assert.deepEqual(parseReply(b('+PONG\r\n'), 0), { value: 'PONG', next: 7 })
  assert.deepEqual(parseReply(b(':42\r\n'), 0), { value: 42, next: 5 })
  assert.deepEqual(parseReply(b('$-1\r\n'), 0), { value: null, next: 5 })
  assert.deepEqual(parseReply(b('*2\r\n$4\r\nsave\r\n$0\r\n\r\n'), 0)?.value, ['save', ''])
  const err = parseReply(b('-NOAUTH Authentication required.\r\n'), 0)?.value
  assert.ok(err instanceof RespErrorReply)
  assert.equal(err.code, 'NOAUTH')
  assert.equal(parseReply(b('$5\r\nhel'), 0), null)
  assert.equal(parseReply(b('*2\r\n+a\r\n'), 0), null)
  assert.equal(parseReply(b('+PON'), 0), null)
})

test('resp: bytes that cannot be RESP are a protocol error, described without dumping binary', () => {
  assert.throws(() => parseReply(Buffer.from('HTTP/1.1 400 Bad Request\r\n'), 0), RespProtocolError)
  assert.throws(() => parseReply(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]), 0), RespProtocolError)
  assert.equal(describeBytes(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])), 'a TLS record')
  assert.equal(describeBytes(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')), '"HTTP/1.1 400 Bad Request"')
  assert.equal(describeBytes(Buffer.from([0x00, 0x01])), '2 binary bytes')
})

test('resp: a client gets replies, error replies as values, then timeout and close as errors', async () => {
  const mock = await startRespMockServer({ GET: reply.bulk('v'), BLPOP: reply.hang() })
  after(() => mock.close())
  const socket = connect(mock.port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const client = new RespClient(socket)
  assert.equal(await client.command(['PING'], 1000), 'PONG')
  assert.equal(await client.command(['GET', 'k'], 1000), 'v')
  const unknown = await client.command(['NOPE'], 1000)
  assert.ok(unknown instanceof RespErrorReply && unknown.code === 'ERR')
  await assert.rejects(client.command(['BLPOP', 'k', '0'], 50), RespTimeoutError)
  assert.equal(client.isOpen, false)
  await assert.rejects(client.command(['PING'], 1000), RespTimeoutError)

  const socket2 = connect(mock.port, '127.0.0.1')
  await new Promise((resolve) => socket2.once('connect', resolve))
  const client2 = new RespClient(socket2)
  mock.script({ PING: reply.disconnect() })
  await assert.rejects(client2.command(['PING'], 1000), (e: unknown) => e instanceof RespClosedError && !e.receivedAny)
})
