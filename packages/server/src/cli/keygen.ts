import { parseArgs } from 'node:util'
import { ALGORITHMS, type Algorithm } from '../config.js'
import { generateKey } from '../tokens/keys.js'

interface IO {
  out: { write(s: string): unknown }
  err: { write(s: string): unknown }
}

const HELP = `Usage: baton keygen [--alg EdDSA|ES256|RS256|HS256] [--json]

Prints a new signing key as an environment line to paste into your secret store:
  JWT_ALGORITHM=EdDSA
  JWT_PRIVATE_KEY='{"kty":"OKP",...}'
For HS256 it prints JWT_SECRET=base64:... (32 random bytes).
Keep the old public key in JWT_VERIFY_KEYS while tokens signed with it are still alive.
`

/** `baton keygen`: a new private key (JWK) or HS256 secret, printed once, never stored. */
export async function runKeygenCommand(argv: string[], io: IO): Promise<number> {
  let values: { alg?: string | undefined; json?: boolean | undefined; help?: boolean | undefined }
  try {
    values = parseArgs({ args: argv, options: { alg: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values
  } catch (err) {
    io.err.write(`${(err as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help === true) {
    io.out.write(HELP)
    return 0
  }
  const alg = ALGORITHMS.find((a) => a.toLowerCase() === (values.alg ?? 'EdDSA').toLowerCase()) as Algorithm | undefined
  if (alg === undefined) {
    io.err.write(`unknown algorithm "${values.alg}"; use one of ${ALGORITHMS.join(', ')}\n`)
    return 2
  }
  const key = await generateKey(alg)
  if (values.json === true) {
    io.out.write(`${JSON.stringify({ algorithm: alg, kid: key.kid, ...(key.secret !== undefined ? { secret: key.secret } : { privateKey: key.privateJWK }) })}\n`)
    return 0
  }
  io.out.write(`JWT_ALGORITHM=${alg}\n`)
  if (key.secret !== undefined) io.out.write(`JWT_SECRET=${key.secret}\n`)
  else io.out.write(`JWT_PRIVATE_KEY='${JSON.stringify(key.privateJWK)}'\n`)
  io.err.write(`# key id ${key.kid}; keep this secret.\n`)
  return 0
}
